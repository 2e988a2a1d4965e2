/** Admission validation: Kubernetes' naming rules and per-kind field validation. */
export { validateObject } from './objects.js';
export {
  isDNS1123Subdomain, isDNS1123Label, isDNS1035Label, isQualifiedName, isValidLabelValue, isCIdentifier, isEnvVarName,
  isRelaxedEnvVarName, isConfigMapKey, isValidPortName, isValidPortNum, isValidPercent, isIPv4, isIPv6,
  validateLabels, validateAnnotations, TOTAL_ANNOTATION_SIZE_LIMIT,
} from './names.js';
export { validateLabelSelector } from './selector.js';
export { validatePodSpec, validatePodTemplate } from './podspec.js';
export { cronScheduleError, timeZoneError, toNodeCronExpression } from './cron.js';
export { MAX_CONFIG_SIZE, decodeBase64 } from './config.js';
export { NODE_PORT_MIN, NODE_PORT_MAX } from './service.js';
