/** admissionregistration.k8s.io/v1: field facts of k8s.io/api/admissionregistration/v1 (generated.proto numbers, types.go pointers). Grammar in ../protobuf-schema.ts. */
import { definePackage } from '../protobuf-schema.js';

export const ADMISSIONREGISTRATION_V1 = definePackage('admissionregistration.k8s.io/v1', 'admissionregistration', {
  MatchCondition: '1 name *string; 2 expression *string',
  MutatingWebhook: `1 name *string; 2 clientConfig WebhookClientConfig; 3 rules []RuleWithOperations;
    4 failurePolicy *string; 5 namespaceSelector meta.LabelSelector; 6 sideEffects *string;
    7 timeoutSeconds *int32; 8 admissionReviewVersions *[]string; 9 matchPolicy *string;
    10 reinvocationPolicy *string; 11 objectSelector meta.LabelSelector;
    12 matchConditions []MatchCondition`,
  MutatingWebhookConfiguration: '1 metadata meta.ObjectMeta; 2 webhooks []MutatingWebhook',
  MutatingWebhookConfigurationList: '1 metadata meta.ListMeta; 2 items []MutatingWebhookConfiguration',
  Rule: '1 apiGroups []string; 2 apiVersions []string; 3 resources []string; 4 scope *string',
  RuleWithOperations: '1 operations []string; 2 rule ^Rule',
  ServiceReference: '1 namespace *string; 2 name *string; 3 path *string; 4 port *int32',
  ValidatingWebhook: `1 name *string; 2 clientConfig WebhookClientConfig; 3 rules []RuleWithOperations;
    4 failurePolicy *string; 5 namespaceSelector meta.LabelSelector; 6 sideEffects *string;
    7 timeoutSeconds *int32; 8 admissionReviewVersions *[]string; 9 matchPolicy *string;
    10 objectSelector meta.LabelSelector; 11 matchConditions []MatchCondition`,
  ValidatingWebhookConfiguration: '1 metadata meta.ObjectMeta; 2 webhooks []ValidatingWebhook',
  ValidatingWebhookConfigurationList: '1 metadata meta.ListMeta; 2 items []ValidatingWebhookConfiguration',
  WebhookClientConfig: '1 service ServiceReference; 2 caBundle bytes; 3 url *string',
});
