/** policy/v1: field facts of k8s.io/api/policy/v1 (generated.proto numbers, types.go pointers). Grammar in ../protobuf-schema.ts. */
import { definePackage } from '../protobuf-schema.js';

export const POLICY_V1 = definePackage('policy/v1', 'policy', {
  Eviction: '1 metadata meta.ObjectMeta; 2 deleteOptions meta.DeleteOptions',
  PodDisruptionBudget: '1 metadata meta.ObjectMeta; 2 spec PodDisruptionBudgetSpec; 3 status PodDisruptionBudgetStatus',
  PodDisruptionBudgetList: '1 metadata meta.ListMeta; 2 items []PodDisruptionBudget',
  PodDisruptionBudgetSpec: `1 minAvailable IntOrString; 2 selector meta.LabelSelector; 3 maxUnavailable IntOrString;
    4 unhealthyPodEvictionPolicy *string`,
  PodDisruptionBudgetStatus: `1 observedGeneration int64; 2 disruptedPods {}Time; 3 disruptionsAllowed *int32;
    4 currentHealthy *int32; 5 desiredHealthy *int32; 6 expectedPods *int32;
    7 conditions []meta.Condition`,
});
