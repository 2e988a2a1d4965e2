/**
 * Server-side printing: turns objects into a meta.k8s.io/v1 Table, which is what kubectl asks for
 * (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`) to print real columns in `kubectl get`.
 * Without it kubectl falls back to NAME/AGE only, and without row objects `-A`, `--show-labels` and
 * `-L` print empty columns (kubectl-wire.md §5).
 */
import type { KubeObject, ListMeta } from '../../api/meta.js';
import type { ResourceInfo } from '../../api/resources.js';
import { apiVersionOf } from '../../api/resources.js';
import { DEFAULT_PRINTER, PRINTERS } from './table-printers.js';
import { customPrinter } from './crd/custom-printer.js';
import type { TablePrinter, TableResult, TableRow } from './table-types.js';

export type { TableColumnDefinition, TableResult, TableRow, TableRowCondition, PartialObjectMetadata } from './table-types.js';
export { formatAge, humanDuration } from './table-format.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface ToTableOptions {
  /** What each row carries in `object` (the `includeObject` query parameter); Metadata by default. */
  includeObject?: IncludeObject;
  /** Leave out the column definitions (`columnDefinitions: null`), as for watch events after the first. */
  noHeaders?: boolean;
  listMeta?: ListMeta;
  /** The clock for Age and other relative cells; injectable so tests are exact. */
  now?: Date;
}

/** The printer for a resource: upstream's columns for the kinds it knows, Name/Created At otherwise. */
export function printerFor(info: Pick<ResourceInfo, 'group' | 'plural' | 'custom'>): TablePrinter {
  if (info.custom) return customPrinter(info.custom);
  return PRINTERS.get(`${info.group}/${info.plural}`) ?? DEFAULT_PRINTER;
}

/** Subresources that answer the resource's own objects; the rest (binding, eviction, log, ...) have no printer. */
const PRINTABLE_SUBRESOURCES: ReadonlySet<string> = new Set(['status', 'scale']);
/** Whether a Table can be answered for a resource (or one of its subresources); upstream answers 406 otherwise. */
export function isPrintable(info: Pick<ResourceInfo, 'createOnly'>, subresource?: string): boolean {
  // Create-only review kinds store nothing, and upstream gives them no table conversion.
  if (info.createOnly) return false;
  return subresource === undefined || PRINTABLE_SUBRESOURCES.has(subresource);
}

export function toTable(info: ResourceInfo, objects: KubeObject[], options: ToTableOptions = {}): TableResult {
  const printer = printerFor(info);
  const now = options.now ?? new Date();
  const includeObject = options.includeObject ?? 'Metadata';
  const rows = objects.map((obj): TableRow => {
    const { cells, conditions } = printer.row(obj, now);
    const row: TableRow = { cells };
    if (conditions !== undefined) row.conditions = conditions;
    if (includeObject === 'Metadata') {
      row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
    } else if (includeObject === 'Object') {
      // Stored items may omit their type; kubectl's --sort-by decodes row objects and needs it.
      row.object = { ...obj, kind: obj.kind ?? info.kind, apiVersion: obj.apiVersion ?? apiVersionOf(info) };
    }
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: options.listMeta ?? {},
    columnDefinitions: options.noHeaders === true ? null : printer.columns,
    rows,
  };
}
