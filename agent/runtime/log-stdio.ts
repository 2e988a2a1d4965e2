/**
 * How a task's stdout and stderr reach its log file, through the shim (which, unlike the agent,
 * outlives an agent restart).
 *
 * Not containerd's `file://` log URI (ctr's `--log-uri`): with it, the containerd 1.6 shim opens the
 * file once for both streams, and the stdout copy closes that one descriptor when stdout ends, while
 * the stderr copy may still be writing through it. What a program wrote to stderr just before it
 * exited, a crashing program's error message most of all, was lost in about half of the runs
 * (integration/runtime, "what a container writes to stderr just before it exits").
 *
 * Instead each stream gets a plain path (containerd's default scheme: it appends to an existing
 * regular file, O_APPEND, and a path that is not a FIFO is opened as a file). The shim shares one
 * descriptor whenever the two path strings are equal, so stderr names the same file through a `/./`
 * in the path: two descriptors of one file, each closed by its own copy. O_APPEND keeps every write
 * at the file's end, which the log rotation's copy-then-truncate relies on.
 */
import { open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface LogStdio {
  stdout: string;
  stderr: string;
}

/** The stdout and stderr paths of a task that logs to `logPath`; creates the file (the shim does not). */
export async function logStdio(logPath: string): Promise<LogStdio> {
  await (await open(logPath, 'a', 0o640)).close();
  return { stdout: logPath, stderr: `${dirname(logPath)}/./${basename(logPath)}` };
}
