/**
 * Server-side printing of custom resources: NAME, then the CRD version's additionalPrinterColumns
 * (each a JSONPath into the object), or NAME and AGE when it declares none, as upstream.
 */
import type { KubeObject } from '../../../api/meta.js';
import type { CustomResourceBehaviour } from '../../../api/resources.js';
import type { TablePrinter } from '../table-types.js';
import { formatAge, humanDuration } from '../table-format.js';
import { evaluateJsonPath, JsonPathError } from './json-path.js';

const NAME = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.', priority: 0 };
const AGE = { name: 'Age', type: 'date', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 };

const printers = new WeakMap<CustomResourceBehaviour, TablePrinter>();

/** A cell as upstream fills it: the value for one result, a comma-joined list for several, dates as ages. */
function cell(obj: KubeObject, jsonPath: string, type: string, now: Date): unknown {
  let values: unknown[];
  try {
    values = evaluateJsonPath(obj, jsonPath);
  } catch (err) {
    if (err instanceof JsonPathError) return null;
    throw err;
  }
  if (values.length === 0) return null;
  if (type === 'date' && values.length === 1 && typeof values[0] === 'string') {
    const at = Date.parse(values[0]);
    return Number.isNaN(at) ? values[0] : humanDuration(now.getTime() - at);
  }
  if (values.length === 1) {
    const v = values[0];
    return v !== null && typeof v === 'object' ? JSON.stringify(v) : v;
  }
  return values.map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
}

export function customPrinter(custom: CustomResourceBehaviour): TablePrinter {
  let printer = printers.get(custom);
  if (printer) return printer;
  const columns = custom.printerColumns;
  printer = columns.length === 0
    ? { columns: [NAME, AGE], row: (obj, now) => ({ cells: [obj.metadata.name ?? '', formatAge(obj.metadata.creationTimestamp, now)] }) }
    : {
      columns: [NAME, ...columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 }))],
      row: (obj, now) => ({ cells: [obj.metadata.name ?? '', ...columns.map((c) => cell(obj, c.jsonPath, c.type, now))] }),
    };
  printers.set(custom, printer);
  return printer;
}
