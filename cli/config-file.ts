/**
 * The config-file layer of corral's settings. Precedence, for every command:
 *
 *   command-line flag  >  CORRAL_* environment variable  >  config file  >  built-in default
 *
 * The file (`/etc/corral/config.yaml`, or `--config FILE` / `CORRAL_CONFIG`) is a flat YAML map whose
 * keys are flag names without the dashes (`data-dir: /srv/corral`, `port: 6443`, `tls-san: [pi.lan]`),
 * as in k3s. Each key is turned into the environment variable its flag reads (`data-dir` →
 * `CORRAL_DATA_DIR`), unless that variable is already set; commands then read "flag, else
 * environment" and get all four layers without knowing about the file.
 */
import { existsSync, readFileSync } from 'node:fs';

export const DEFAULT_CONFIG_FILE = '/etc/corral/config.yaml';

/** `tls-san` → `CORRAL_TLS_SAN`. */
export function envNameOf(key: string): string {
  return `CORRAL_${key.trim().replace(/[-.]/g, '_').toUpperCase()}`;
}

function scalarText(key: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`config key "${key}" must be a string, number, boolean or a list of those`);
}

/** The environment variables a config file stands for (lists become comma-separated). */
export async function configFileEnv(text: string, file: string): Promise<Record<string, string>> {
  // yaml (~9 MiB resident) loads only when there is a file: `corral agent` shares this CLI.
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: expected a map of settings (key: value)`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (value === null || value === undefined) continue;
    if (!/^[a-z][a-z0-9-]*$/.test(key)) throw new Error(`${file}: "${key}" is not a setting name (use flag names like data-dir)`);
    out[envNameOf(key)] = Array.isArray(value) ? value.map((v) => scalarText(key, v)).join(',') : scalarText(key, value);
  }
  return out;
}

/**
 * Reads the config file into `env` (default: process.env) where a variable is not already set.
 * A file named explicitly must exist; the default one is optional. Returns the file used, if any.
 */
export async function applyConfigFile(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const named = explicit ?? (env['CORRAL_CONFIG'] || undefined);
  const file = named ?? DEFAULT_CONFIG_FILE;
  if (!existsSync(file)) {
    if (named) throw new Error(`config file ${file} does not exist`);
    return undefined;
  }
  const vars = await configFileEnv(readFileSync(file, 'utf8'), file);
  for (const [name, value] of Object.entries(vars)) {
    if (env[name] === undefined || env[name] === '') env[name] = value;
  }
  return file;
}

type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean | undefined };

/**
 * Gives every flag of a command that was not on the command line the value of its environment
 * variable (which the config file may have filled), so flag > environment > file holds for every
 * flag of every command, also those whose code reads only the parsed flags. Lists are comma-separated;
 * booleans are `true`/`1` or `false`/`0`.
 */
export function fillFromEnvironment(options: Readonly<Record<string, OptionSpec>>, values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, spec] of Object.entries(options)) {
    if (name === 'help' || name === 'config' || values[name] !== undefined) continue;
    const raw = env[envNameOf(name)];
    if (raw === undefined || raw === '') continue;
    if (spec.type === 'boolean') {
      const v = raw.trim().toLowerCase();
      if (v === 'true' || v === '1') values[name] = true;
      else if (v !== 'false' && v !== '0') throw new Error(`${envNameOf(name)}="${raw}": expected true or false`);
    } else {
      values[name] = spec.multiple ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : raw;
    }
  }
}
