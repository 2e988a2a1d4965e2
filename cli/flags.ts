/**
 * What every `corral` subcommand shares: its shape, and reading a setting from its flag or else its
 * CORRAL_* environment variable (the config file has already filled unset variables: cli/config-file.ts).
 */
import type { ParseArgsConfig } from 'node:util';
import { defaultDataDir } from '../server/config.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface CliCommand {
  summary: string;
  usage: string;
  options: Options;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number | void>;
}

export const dataDirOption: Options = { 'data-dir': { type: 'string', short: 'd' } };

/** `CORRAL_<name>`, with an empty value counting as unset. */
export function env(name: string): string | undefined {
  const v = process.env[`CORRAL_${name}`];
  return v === undefined || v === '' ? undefined : v;
}

/** A string flag, else its environment variable. */
export function str(values: Record<string, unknown>, key: string, envName: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : env(envName);
}

/** A boolean flag, else its environment variable (`1` or `true`). */
export function bool(values: Record<string, unknown>, key: string, envName: string): boolean {
  if (values[key] === true) return true;
  const e = env(envName);
  return e === '1' || e === 'true';
}

/** `--data-dir`, else CORRAL_DATA_DIR, else the default (/var/lib/corral as root, ~/.corral otherwise). */
export function dataDirOf(values: Record<string, unknown>): string {
  return str(values, 'data-dir', 'DATA_DIR') ?? defaultDataDir();
}

/** Parses a duration like `1h`, `30m`, `90s`, `2d` into seconds. */
export function parseDurationSeconds(text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration "${text}" (use e.g. 90s, 30m, 1h, 2d)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * ({ s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[unit]!;
}
