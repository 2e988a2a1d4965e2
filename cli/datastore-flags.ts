/**
 * `--datastore-endpoint` and its TLS files, shared by `corral server`, `corral backup` and
 * `corral restore`: unset, the state lives in SQLite under the data dir; set, in etcd.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { DatastoreConfig } from '../server/config.js';
import { str } from './flags.js';

export const DATASTORE_USAGE = '[--datastore-endpoint https://etcd1:2379,...] [--datastore-cafile F] [--datastore-certfile F] [--datastore-keyfile F]';

/** `corral server` on etcd also needs the cluster secret (never on the command line: a file or CORRAL_TOKEN). */
export const CLUSTER_SECRET_USAGE = '[--token-file FILE]';

/** The cluster secret from `--token-file` or CORRAL_TOKEN; undefined when neither is given. */
export function clusterSecret(values: Record<string, unknown>): string | undefined {
  const file = str(values, 'token-file', 'TOKEN_FILE');
  if (file) {
    if (!existsSync(file)) throw new Error(`--token-file ${file} does not exist`);
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length < 16) throw new Error(`the cluster secret in ${file} is too short: use at least 16 characters (e.g. openssl rand -hex 32)`);
    return secret;
  }
  const fromEnv = process.env['CORRAL_TOKEN']?.trim();
  if (fromEnv !== undefined && fromEnv.length > 0 && fromEnv.length < 16) throw new Error('the cluster secret in CORRAL_TOKEN is too short: use at least 16 characters');
  return fromEnv || undefined;
}

export const datastoreOptions = {
  'datastore-endpoint': { type: 'string' },
  'datastore-cafile': { type: 'string' },
  'datastore-certfile': { type: 'string' },
  'datastore-keyfile': { type: 'string' },
} as const;

/** The etcd datastore the flags (or CORRAL_DATASTORE_* variables) name, checked; undefined: SQLite. */
export function datastoreSettings(values: Record<string, unknown>): DatastoreConfig | undefined {
  const endpoint = str(values, 'datastore-endpoint', 'DATASTORE_ENDPOINT');
  const files = {
    caFile: str(values, 'datastore-cafile', 'DATASTORE_CAFILE'),
    certFile: str(values, 'datastore-certfile', 'DATASTORE_CERTFILE'),
    keyFile: str(values, 'datastore-keyfile', 'DATASTORE_KEYFILE'),
  };
  if (endpoint === undefined) {
    if (files.caFile || files.certFile || files.keyFile) throw new Error('--datastore-cafile/certfile/keyfile need --datastore-endpoint');
    return undefined;
  }
  const endpoints = endpoint.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (endpoints.length === 0) throw new Error('--datastore-endpoint names no endpoint');
  for (const e of endpoints) {
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new Error(`invalid --datastore-endpoint "${e}": expected a URL such as https://etcd1:2379`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`invalid --datastore-endpoint "${e}": only http:// and https:// etcd endpoints are supported`);
  }
  if (Boolean(files.certFile) !== Boolean(files.keyFile)) throw new Error('--datastore-certfile and --datastore-keyfile go together');
  for (const [flag, file] of [['cafile', files.caFile], ['certfile', files.certFile], ['keyfile', files.keyFile]] as const) {
    if (file && !existsSync(file)) throw new Error(`--datastore-${flag} ${file} does not exist`);
  }
  if (endpoints.some((e) => e.startsWith('https:')) && !files.caFile) throw new Error('an https:// --datastore-endpoint needs --datastore-cafile (the CA that signed etcd\'s certificate)');
  return { endpoints, ...(files.caFile ? { caFile: files.caFile } : {}), ...(files.certFile ? { certFile: files.certFile } : {}), ...(files.keyFile ? { keyFile: files.keyFile } : {}) };
}
