/**
 * A promise-shaped wrapper over one `sqlite3` connection (the package's API is callback based).
 *
 * Only `all()` and `run()` are exposed on purpose: `sqlite3`'s `Statement#get` steps once and leaves
 * the statement active, which keeps a read transaction (and, for an INSERT … RETURNING, the write
 * transaction) open on the connection until the statement is next used. `all()` always steps to the
 * end, so every autocommit statement really finishes.
 */
import sqlite3 from 'sqlite3';
import type { Database, Statement, RunResult as NativeRunResult } from 'sqlite3';

/** A value SQLite can bind. */
export type SqlValue = string | number | bigint | null | Buffer;
export type SqlParams = readonly SqlValue[];

/** The fields of a SQLite failure that callers branch on. */
export interface SqliteError extends Error {
  /** e.g. `SQLITE_CONSTRAINT`, `SQLITE_BUSY`. */
  code?: string;
  errno?: number;
}

export function isConstraintError(err: unknown): boolean {
  return err instanceof Error && (err as SqliteError).code === 'SQLITE_CONSTRAINT';
}

export interface RunResult {
  /** rowid of the last inserted row (INSERT only). */
  lastId: number;
  /** Rows changed by the statement. */
  changes: number;
}

/** A statement prepared once on one connection and run many times with fresh parameters. */
export class PreparedStatement {
  readonly name: string;
  readonly #stmt: Statement;

  constructor(name: string, stmt: Statement) {
    this.name = name;
    this.#stmt = stmt;
  }

  /** Run to completion and return every row. */
  all<Row>(params: SqlParams = []): Promise<Row[]> {
    return new Promise((resolve, reject) => {
      this.#stmt.all<Row>([...params], (err, rows) => {
        if (err) reject(withStatementName(err, this.name));
        else resolve(rows);
      });
    });
  }

  /** The first row, if any (the statement still runs to completion; add LIMIT 1 to the SQL). */
  async first<Row>(params: SqlParams = []): Promise<Row | undefined> {
    const rows = await this.all<Row>(params);
    return rows[0];
  }

  /** Run a statement that returns no rows. */
  run(params: SqlParams = []): Promise<RunResult> {
    const name = this.name;
    return new Promise((resolve, reject) => {
      this.#stmt.run([...params], function (this: NativeRunResult, err: Error | null) {
        if (err) reject(withStatementName(err, name));
        else resolve({ lastId: this.lastID, changes: this.changes });
      });
    });
  }

  finalize(): Promise<void> {
    return new Promise((resolve) => {
      this.#stmt.finalize(() => resolve());
    });
  }
}

export interface OpenOptions {
  readOnly?: boolean;
}

/** One open SQLite connection. */
export class SqliteConnection {
  readonly path: string;
  readonly #db: Database;
  readonly #statements: PreparedStatement[] = [];

  private constructor(path: string, db: Database) {
    this.path = path;
    this.#db = db;
  }

  static open(path: string, options: OpenOptions = {}): Promise<SqliteConnection> {
    const mode = options.readOnly === true ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE;
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(path, mode, (err) => {
        if (err) reject(new Error(`opening SQLite database ${path}: ${err.message}`, { cause: err }));
        else resolve(new SqliteConnection(path, db));
      });
    });
  }

  /** Run one or more statements without parameters (schema, pragmas). */
  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#db.exec(sql, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** A one-off query (start-up, tests, diagnostics); hot paths use `prepare`. */
  all<Row>(sql: string, params: SqlParams = []): Promise<Row[]> {
    return new Promise((resolve, reject) => {
      this.#db.all<Row>(sql, [...params], (err, rows) => (err ? reject(err) : resolve(rows)));
    });
  }

  /** A one-off statement that returns no rows. */
  run(sql: string, params: SqlParams = []): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      this.#db.run(sql, [...params], function (this: NativeRunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ lastId: this.lastID, changes: this.changes });
      });
    });
  }

  /** Prepare a statement once; it is finalized when the connection closes. */
  prepare(name: string, sql: string): Promise<PreparedStatement> {
    return new Promise((resolve, reject) => {
      const stmt = this.#db.prepare(sql, (err: Error | null) => {
        if (err) {
          reject(new Error(`preparing statement ${name}: ${err.message}`, { cause: err }));
          return;
        }
        const prepared = new PreparedStatement(name, stmt);
        this.#statements.push(prepared);
        resolve(prepared);
      });
    });
  }

  /** Prepare a record of named statements. */
  async prepareAll<K extends string>(sql: Record<K, string>): Promise<Record<K, PreparedStatement>> {
    const entries = await Promise.all(
      (Object.keys(sql) as K[]).map(async (name) => [name, await this.prepare(name, sql[name])] as const),
    );
    return Object.fromEntries(entries) as Record<K, PreparedStatement>;
  }

  async close(): Promise<void> {
    await Promise.all(this.#statements.splice(0).map((s) => s.finalize()));
    await new Promise<void>((resolve, reject) => {
      this.#db.close((err) => (err ? reject(err) : resolve()));
    });
  }
}

function withStatementName(err: Error, name: string): Error {
  err.message = `${name}: ${err.message}`;
  return err;
}
