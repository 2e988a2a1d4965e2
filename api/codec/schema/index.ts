/**
 * Every API package the protobuf codec knows. A kind the API server serves is readable and writable
 * in protobuf exactly when its package is listed here and describes a message named after the kind;
 * see ../protobuf-schema.ts for the grammar and for how to add one.
 */
import { SchemaRegistry } from '../protobuf-schema.js';
import { META_V1 } from './meta-v1.js';
import { CORE_V1 } from './core-v1.js';
import { APPS_V1 } from './apps-v1.js';
import { BATCH_V1 } from './batch-v1.js';
import { COORDINATION_V1 } from './coordination-v1.js';
import { POLICY_V1 } from './policy-v1.js';
import { SCHEDULING_V1 } from './scheduling-v1.js';
import { AUTOSCALING_V1 } from './autoscaling-v1.js';
import { DISCOVERY_V1 } from './discovery-v1.js';
import { RBAC_V1 } from './rbac-v1.js';
import { STORAGE_V1 } from './storage-v1.js';
import { EVENTS_V1 } from './events-v1.js';
import { NODE_V1 } from './node-v1.js';
import { ADMISSIONREGISTRATION_V1 } from './admissionregistration-v1.js';
import { AUTHENTICATION_V1 } from './authentication-v1.js';
import { AUTHORIZATION_V1 } from './authorization-v1.js';
import { NETWORKING_V1 } from './networking-v1.js';

export const SCHEMAS = new SchemaRegistry([
  META_V1, CORE_V1, APPS_V1, BATCH_V1, COORDINATION_V1, POLICY_V1, SCHEDULING_V1, AUTOSCALING_V1, DISCOVERY_V1,
  RBAC_V1, STORAGE_V1, EVENTS_V1, NODE_V1, ADMISSIONREGISTRATION_V1, AUTHENTICATION_V1, AUTHORIZATION_V1, NETWORKING_V1,
]);
