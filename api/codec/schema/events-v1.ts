/** events.k8s.io/v1: field facts of k8s.io/api/events/v1 (generated.proto numbers, types.go pointers). Grammar in ../protobuf-schema.ts. */
import { definePackage } from '../protobuf-schema.js';

export const EVENTS_V1 = definePackage('events.k8s.io/v1', 'events', {
  Event: `1 metadata meta.ObjectMeta; 2 eventTime MicroTime; 3 series EventSeries;
    4 reportingController string; 5 reportingInstance string; 6 action string; 7 reason string;
    8 regarding core.ObjectReference; 9 related core.ObjectReference; 10 note string; 11 type string;
    12 deprecatedSource core.EventSource; 13 deprecatedFirstTimestamp Time;
    14 deprecatedLastTimestamp Time; 15 deprecatedCount int32`,
  EventList: '1 metadata meta.ListMeta; 2 items []Event',
  EventSeries: '1 count *int32; 2 lastObservedTime MicroTime',
});
