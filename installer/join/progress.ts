/**
 * Live progress of parallel joins: one line per host redrawn in place on a terminal, plain
 * timestamped lines otherwise (CI logs, pipes), and the summary table printed at the end.
 */

export const PHASES = ['connect', 'preflight', 'upload', 'start', 'ready'] as const;
export type Phase = (typeof PHASES)[number];

export interface HostResult {
  label: string;
  nodeName: string;
  arch: string;
  board: string;
  result: 'joined' | 'upgraded' | 'planned' | 'failed' | 'uninstalled';
  error?: string;
  /** Milliseconds spent in each phase that ran. */
  phases: Partial<Record<Phase, number>>;
  totalMs: number;
}

export interface ProgressSink {
  phase(label: string, phase: Phase, detail?: string): void;
  finished(r: HostResult): void;
  close(): void;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/** Plain lines: `[host] phase detail`. */
export class LineProgress implements ProgressSink {
  constructor(private readonly write: (s: string) => void) {}
  phase(label: string, phase: Phase, detail?: string): void {
    this.write(`[${label}] ${phase}${detail ? `: ${detail}` : ''}\n`);
  }
  finished(r: HostResult): void {
    this.write(`[${r.label}] ${r.result} in ${secs(r.totalMs)}${r.error ? `: ${r.error}` : ''}\n`);
  }
  close(): void {}
}

/** One line per host, redrawn in place with ANSI cursor movement. */
export class TtyProgress implements ProgressSink {
  private readonly lines = new Map<string, string>();
  private readonly started = new Map<string, number>();
  private drawn = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(labels: readonly string[], private readonly write: (s: string) => void, private readonly columns = 100) {
    for (const l of labels) { this.lines.set(l, 'waiting'); this.started.set(l, Date.now()); }
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
    this.draw();
  }

  private draw(): void {
    const width = Math.max(...[...this.lines.keys()].map((l) => l.length));
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const [label, text] of this.lines) {
      const line = `${label.padEnd(width)}  ${text}`.slice(0, this.columns - 1);
      out += `\r\x1b[2K${line}\n`;
    }
    this.drawn = this.lines.size;
    this.write(out);
  }

  phase(label: string, phase: Phase, detail?: string): void {
    const i = PHASES.indexOf(phase);
    const bar = PHASES.map((p, j) => (j < i ? '■' : j === i ? '▶' : '·')).join('');
    this.lines.set(label, `${bar} ${phase}${detail ? `: ${detail}` : ''}  ${secs(Date.now() - (this.started.get(label) ?? Date.now()))}`);
    this.draw();
  }

  finished(r: HostResult): void {
    this.lines.set(r.label, `${r.result === 'failed' ? '✗' : '✓'} ${r.result} in ${secs(r.totalMs)}${r.error ? `: ${r.error.split('\n')[0]}` : ''}`);
    this.draw();
  }

  close(): void {
    clearInterval(this.timer);
    this.draw();
  }
}

/** The summary table: host, node, arch, board, result, time (and per-phase times). */
export function renderSummary(results: readonly HostResult[]): string {
  const header = ['HOST', 'NODE', 'ARCH', 'BOARD', 'RESULT', 'TIME', 'PHASES'];
  const rows = results.map((r) => [
    r.label, r.nodeName || '-', r.arch || '-', r.board || '-', r.result, secs(r.totalMs),
    PHASES.filter((p) => r.phases[p] !== undefined).map((p) => `${p} ${secs(r.phases[p]!)}`).join(', ') || '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const lines = [header, ...rows].map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  const errors = results.filter((r) => r.error).map((r) => `\n${r.label}: ${r.error}`);
  return `${lines.join('\n')}\n${errors.join('')}${errors.length ? '\n' : ''}`;
}
