/**
 * Structured logging shared by server, agent and installer: JSON lines when stderr is not a TTY
 * (journald, files), short readable lines on a TTY. Level from CORRAL_LOG_LEVEL (debug|info|warn|error).
 * The only I/O in api/ besides the client: every part needs the same log format.
 */
import { isoString } from './iso-time.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const v = (process.env['CORRAL_LOG_LEVEL'] ?? 'info').toLowerCase() as LogLevel;
  return ORDER[v] ?? ORDER.info;
}

let minLevel = threshold();
let sink: (line: string) => void = (line) => process.stderr.write(line);

function emit(level: LogLevel, component: string, msg: string, fields?: Record<string, unknown>): void {
  if (ORDER[level] < minLevel) return;
  const time = isoString();
  if (process.stderr.isTTY) {
    const extra = fields && Object.keys(fields).length > 0
      ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
      : '';
    sink(`${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} [${component}] ${msg}${extra}\n`);
  } else {
    sink(`${JSON.stringify({ time, level, component, msg, ...fields })}\n`);
  }
}

export const log = {
  debug: (component: string, msg: string, fields?: Record<string, unknown>): void => emit('debug', component, msg, fields),
  info: (component: string, msg: string, fields?: Record<string, unknown>): void => emit('info', component, msg, fields),
  warn: (component: string, msg: string, fields?: Record<string, unknown>): void => emit('warn', component, msg, fields),
  error: (component: string, msg: string, fields?: Record<string, unknown>): void => emit('error', component, msg, fields),
  setLevel(level: LogLevel): void { minLevel = ORDER[level]; },
  /** Redirects output (tests capture it). */
  setSink(fn: (line: string) => void): void { sink = fn; },
};
