/**
 * Reads of small files the kernel makes (/proc, /sys, cgroup files), synchronous: they answer from kernel
 * memory in microseconds, where a promise-based read is a thread-pool round trip, and the agent's idle
 * loops read them every few seconds.
 */
import { existsSync, readFileSync } from 'node:fs';

/** The file's text, or undefined when it is absent or unreadable (an absent one costs no Error). */
export function readTextIfPresent(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
