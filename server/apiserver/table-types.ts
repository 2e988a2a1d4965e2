/** The meta.k8s.io/v1 Table shapes served for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. */
import type { KubeObject, ListMeta, ObjectMeta } from '../../api/meta.js';

export interface TableColumnDefinition {
  name: string;
  /** OpenAPI type of the cells: string, integer, number, boolean, date. */
  type: string;
  /** Hint for the client: `name` marks the column that names the object. */
  format: string;
  description: string;
  /** 0 = always shown; 1 = only with `-o wide`. */
  priority: number;
}

export interface TableRowCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface PartialObjectMetadata {
  kind: 'PartialObjectMetadata';
  apiVersion: 'meta.k8s.io/v1';
  metadata: ObjectMeta;
}

export interface TableRow {
  cells: unknown[];
  conditions?: TableRowCondition[];
  /** PartialObjectMetadata by default, the whole object for includeObject=Object, absent for None. */
  object?: PartialObjectMetadata | KubeObject;
}

export interface TableResult {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: ListMeta;
  /** null when the client asked for no headers (watch events after the first). */
  columnDefinitions: TableColumnDefinition[] | null;
  rows: TableRow[];
}

/** One kind's printer: its columns and how to fill a row. */
export interface TablePrinter {
  columns: TableColumnDefinition[];
  row(obj: KubeObject, now: Date): { cells: unknown[]; conditions?: TableRowCondition[] };
}
