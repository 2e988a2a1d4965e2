/** autoscaling/v1: field facts of k8s.io/api/autoscaling/v1 (generated.proto numbers, types.go pointers). Grammar in ../protobuf-schema.ts. */
import { definePackage } from '../protobuf-schema.js';

export const AUTOSCALING_V1 = definePackage('autoscaling/v1', 'autoscaling', {
  Scale: '1 metadata meta.ObjectMeta; 2 spec ScaleSpec; 3 status ScaleStatus',
  ScaleSpec: '1 replicas int32',
  ScaleStatus: '1 replicas *int32; 2 selector string',
});
