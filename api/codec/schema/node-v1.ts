/** node.k8s.io/v1: field facts of k8s.io/api/node/v1 (generated.proto numbers, types.go pointers). Grammar in ../protobuf-schema.ts. */
import { definePackage } from '../protobuf-schema.js';

export const NODE_V1 = definePackage('node.k8s.io/v1', 'node', {
  Overhead: '1 podFixed {}Quantity',
  RuntimeClass: '1 metadata meta.ObjectMeta; 2 handler *string; 3 overhead Overhead; 4 scheduling Scheduling',
  RuntimeClassList: '1 metadata meta.ListMeta; 2 items []RuntimeClass',
  Scheduling: '1 nodeSelector {}string; 2 tolerations []core.Toleration',
});
