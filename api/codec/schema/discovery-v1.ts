/** discovery.k8s.io/v1: field facts of k8s.io/api/discovery/v1 (generated.proto numbers, types.go pointers). Grammar in ../protobuf-schema.ts. */
import { definePackage } from '../protobuf-schema.js';

export const DISCOVERY_V1 = definePackage('discovery.k8s.io/v1', 'discovery', {
  Endpoint: `1 addresses *[]string; 2 conditions EndpointConditions; 3 hostname *string;
    4 targetRef core.ObjectReference; 5 deprecatedTopology {}string; 6 nodeName *string; 7 zone *string;
    8 hints EndpointHints`,
  EndpointConditions: '1 ready *bool; 2 serving *bool; 3 terminating *bool',
  EndpointHints: '1 forZones []ForZone',
  EndpointPort: '1 name *string; 2 protocol *string; 3 port *int32; 4 appProtocol *string',
  EndpointSlice: '1 metadata meta.ObjectMeta; 2 endpoints []Endpoint; 3 ports []EndpointPort; 4 addressType *string',
  EndpointSliceList: '1 metadata meta.ListMeta; 2 items []EndpointSlice',
  ForZone: '1 name *string',
});
