/** scheduling.k8s.io/v1: field facts of k8s.io/api/scheduling/v1 (generated.proto numbers, types.go pointers). Grammar in ../protobuf-schema.ts. */
import { definePackage } from '../protobuf-schema.js';

export const SCHEDULING_V1 = definePackage('scheduling.k8s.io/v1', 'scheduling', {
  PriorityClass: `1 metadata meta.ObjectMeta; 2 value *int32; 3 globalDefault bool; 4 description string;
    5 preemptionPolicy *string`,
  PriorityClassList: '1 metadata meta.ListMeta; 2 items []PriorityClass',
});
