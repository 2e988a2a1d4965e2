/** coordination.k8s.io/v1: field facts of k8s.io/api/coordination/v1 (generated.proto numbers, types.go pointers). Grammar in ../protobuf-schema.ts. */
import { definePackage } from '../protobuf-schema.js';

export const COORDINATION_V1 = definePackage('coordination.k8s.io/v1', 'coordination', {
  Lease: '1 metadata meta.ObjectMeta; 2 spec LeaseSpec',
  LeaseList: '1 metadata meta.ListMeta; 2 items []Lease',
  LeaseSpec: `1 holderIdentity *string; 2 leaseDurationSeconds *int32; 3 acquireTime MicroTime;
    4 renewTime MicroTime; 5 leaseTransitions *int32; 6 strategy *string; 7 preferredHolder *string`,
});
