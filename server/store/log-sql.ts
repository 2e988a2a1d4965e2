/**
 * The schema and every SQL statement of the SQLite store, each with a name, prepared once per
 * connection (kine's habit: no SQL strings built on hot paths).
 *
 * The log table holds one row per revision; `id` is the revision. A row is a create (`created`),
 * an update, or a delete tombstone (`deleted`, carrying the last value so a delete event can show
 * it). `prev_revision` points at the row the write replaced (for a re-create: the tombstone, for a
 * first create: 0). The UNIQUE index on (name, prev_revision) is what makes optimistic concurrency
 * a database rule: two writes that both expect revision N for a key both try to insert
 * (key, prev_revision = N), and only the first can.
 *
 * `create_revision` is stored as 0 on create rows (the row's own id is not known before the insert)
 * and read back as `id` for them; other rows copy it from the row they replace.
 */

export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS log (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT    NOT NULL,
  created         INTEGER NOT NULL,
  deleted         INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision   INTEGER NOT NULL,
  value           TEXT    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS log_name_prev_revision ON log (name, prev_revision);
CREATE INDEX IF NOT EXISTS log_name_id_deleted ON log (name, id, deleted);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Keys of the meta table. */
export const META = {
  /** Oldest revision that can be listed at or watched from. */
  compactRevision: 'compact_revision',
  /** Rows with id <= this have had their superseded rows removed (progress of a compaction). */
  compactedThrough: 'compacted_through',
} as const;

/** Columns of a log row as read back, with create_revision resolved. */
const ROW = `id, name, created, deleted,
  CASE WHEN created THEN id ELSE create_revision END AS create_revision, prev_revision, value`;

/** Statements run on the writer connection. */
export const WRITER_SQL = {
  begin: 'BEGIN IMMEDIATE',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  savepoint: 'SAVEPOINT write_job',
  release: 'RELEASE write_job',
  rollbackToSavepoint: 'ROLLBACK TO write_job',

  /** ?1 name, ?2 value. Inserts only when the key is absent or its latest row is a tombstone. */
  create: `
    INSERT INTO log (name, created, deleted, create_revision, prev_revision, value)
    SELECT ?1, 1, 0, 0, coalesce((SELECT max(id) FROM log WHERE name = ?1), 0), ?2
    WHERE coalesce((SELECT deleted FROM log WHERE name = ?1 ORDER BY id DESC LIMIT 1), 1) = 1
    RETURNING id`,

  /**
   * ?1 name, ?2 expected revision, ?3 value. Inserts a row whose prev_revision is the expected
   * revision; if that revision is no longer the latest, a row with the same (name, prev_revision)
   * already exists and the unique index rejects the insert.
   */
  update: `
    INSERT INTO log (name, created, deleted, create_revision, prev_revision, value)
    SELECT name, 0, 0, CASE WHEN created THEN id ELSE create_revision END, id, ?3
    FROM log WHERE id = ?2 AND name = ?1 AND deleted = 0
    RETURNING id, create_revision, (SELECT p.value FROM log AS p WHERE p.id = log.prev_revision) AS prev_value`,

  /**
   * Many creates in one statement (what `create` does, for each element of ?1, a JSON array of
   * [name, value] with distinct names), inserted in array order: one round trip to the database
   * thread for a whole batch. Returns the rows it inserted; a name without a row already exists.
   */
  createMany: `
    INSERT INTO log (name, created, deleted, create_revision, prev_revision, value)
    SELECT json_extract(j.value, '$[0]'), 1, 0, 0,
      coalesce((SELECT max(id) FROM log WHERE name = json_extract(j.value, '$[0]')), 0), json_extract(j.value, '$[1]')
    FROM json_each(?1) AS j
    WHERE coalesce((SELECT deleted FROM log WHERE name = json_extract(j.value, '$[0]') ORDER BY id DESC LIMIT 1), 1) = 1
    ORDER BY j.key
    RETURNING id, name`,

  /**
   * Many updates in one statement: ?1 is a JSON array of [name, expected revision, value] with
   * distinct names. A stale expected revision trips the unique index and fails the whole statement
   * (SQLite backs out just this statement; the caller then writes them one by one); a name without
   * a row is missing or deleted.
   */
  updateMany: `
    INSERT INTO log (name, created, deleted, create_revision, prev_revision, value)
    SELECT l.name, 0, 0, CASE WHEN l.created THEN l.id ELSE l.create_revision END, l.id, json_extract(j.value, '$[2]')
    FROM json_each(?1) AS j CROSS JOIN log AS l
    WHERE l.id = json_extract(j.value, '$[1]') AND l.name = json_extract(j.value, '$[0]') AND l.deleted = 0
    ORDER BY j.key
    RETURNING id, name, create_revision, (SELECT p.value FROM log AS p WHERE p.id = log.prev_revision) AS prev_value`,

  /** ?1 name, ?2 expected revision (0: the latest). The tombstone keeps the deleted value. */
  delete: `
    INSERT INTO log (name, created, deleted, create_revision, prev_revision, value)
    SELECT name, 0, 1, CASE WHEN created THEN id ELSE create_revision END, id, value
    FROM log
    WHERE name = ?1 AND deleted = 0
      AND id = CASE WHEN ?2 = 0 THEN (SELECT max(id) FROM log WHERE name = ?1) ELSE ?2 END
    RETURNING id, create_revision, prev_revision, value`,

  /** ?1 name: the newest row of a key (to explain why a write did not apply). */
  latest: `SELECT ${ROW} FROM log WHERE name = ?1 ORDER BY id DESC LIMIT 1`,

  /** ?1 key, ?2 value. */
  setMeta: 'INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  getMeta: 'SELECT value FROM meta WHERE key = ?1',
  /** The last revision ever handed out (AUTOINCREMENT never reuses one, even after deletes). */
  lastRevision: "SELECT seq FROM sqlite_sequence WHERE name = 'log'",

  /**
   * Compaction of the id range (?1, ?2]: drop every row that a row in the range replaced. That
   * includes tombstones followed by a re-create in the range.
   */
  compactSuperseded: `
    DELETE FROM log WHERE id IN (
      SELECT prev_revision FROM log WHERE id > ?1 AND id <= ?2 AND prev_revision > 0)`,
  /** Then the tombstones in the range (their previous rows went in the statement above). */
  compactTombstones: 'DELETE FROM log WHERE id > ?1 AND id <= ?2 AND deleted = 1',
  /**
   * Where a compaction chunk of at most ?3 + 1 rows that starts after id ?1 ends, not passing ?2.
   * Chunks are counted in rows, not ids, because ids thin out as compaction removes rows.
   */
  chunkEnd: 'SELECT id FROM log WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT 1 OFFSET ?3',
} as const;

/**
 * Statements run on the reader connection. Gets, counts and lists at the current revision are
 * answered by the watch cache (watch-cache.ts); these serve older revisions, the cache's initial
 * load and watch replay.
 */
export const READER_SQL = {
  /**
   * One consistent page of a list: ?1 range start (inclusive), ?2 range end (exclusive), ?3 list
   * only names greater than this, ?4 revision, ?5 limit. The newest row per name at the revision
   * comes from the covering (name, id, deleted) index (SQLite fills a bare column next to max()
   * from the row holding the max); `total` counts every live key after ?3, for `remaining`.
   * Only the columns a KeyValue needs: turning columns into JS values dominates large lists.
   */
  listPage: `
    WITH latest AS (
      SELECT name, max(id) AS id, deleted FROM log
      WHERE name >= ?1 AND name < ?2 AND name > ?3 AND id <= ?4
      GROUP BY name
    ),
    page AS (
      SELECT name, id, count(*) OVER () AS total FROM latest WHERE deleted = 0 ORDER BY name LIMIT ?5
    )
    SELECT l.id, l.name, CASE WHEN l.created THEN l.id ELSE l.create_revision END AS create_revision,
      l.value, page.total
    FROM page JOIN log AS l ON l.id = page.id
    ORDER BY page.name`,

  /** The same without a limit (no count needed): ?1 start, ?2 end, ?3 after, ?4 revision. */
  listAll: `
    WITH latest AS (
      SELECT name, max(id) AS id, deleted FROM log
      WHERE name >= ?1 AND name < ?2 AND name > ?3 AND id <= ?4
      GROUP BY name
    )
    SELECT l.id, l.name, CASE WHEN l.created THEN l.id ELSE l.create_revision END AS create_revision, l.value
    FROM latest JOIN log AS l ON l.id = latest.id
    WHERE latest.deleted = 0
    ORDER BY latest.name`,

  /**
   * Watch replay: rows after revision ?1 in the key range [?2, ?3), oldest first, at most ?4, each
   * with the row it replaced. `+l.name` keeps the planner on the id range: a watch resumes from a
   * recent revision, so few rows follow it, while a prefix can cover most of the log.
   */
  watchPage: `
    SELECT l.id, l.name, l.created, l.deleted,
      CASE WHEN l.created THEN l.id ELSE l.create_revision END AS create_revision,
      l.prev_revision, l.value,
      p.id AS prev_id, p.value AS prev_value
    FROM log AS l LEFT JOIN log AS p ON p.id = l.prev_revision AND l.created = 0
    WHERE l.id > ?1 AND +l.name >= ?2 AND +l.name < ?3
    ORDER BY l.id
    LIMIT ?4`,
} as const;

/** The columns a KeyValue is made of. */
export interface KvRow {
  id: number;
  name: string;
  create_revision: number;
  value: string;
}

/** A log row as the statements above return it. */
export interface LogRow extends KvRow {
  created: number;
  deleted: number;
  prev_revision: number;
}
