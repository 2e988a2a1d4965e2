/**
 * The import graph of the product's source (api/, server/, agent/, installer/, cli/), read from the
 * TypeScript files themselves: static imports and re-exports, `import type` included, and dynamic
 * `import('…')` of a literal path. Used by the dependency-rules test.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

export const SOURCE_ROOTS = ['api', 'server', 'agent', 'installer', 'cli'] as const;

export interface ImportEdge {
  from: string;
  to: string;
  line: number;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listTs(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Every product source file, repo-relative. */
export function sourceFiles(repoRoot: string): string[] {
  return SOURCE_ROOTS.flatMap((root) => listTs(join(repoRoot, root)).map((f) => relative(repoRoot, f)));
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'([^']+)'/gm;

/** Every relative import between source files, as repo-relative `.ts` paths. */
export function importEdges(repoRoot: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const root of SOURCE_ROOTS) {
    for (const file of listTs(join(repoRoot, root))) {
      const text = readFileSync(file, 'utf8');
      const from = relative(repoRoot, file);
      for (const m of text.matchAll(SPECIFIER)) {
        const spec = m[1]!;
        if (!spec.startsWith('.')) continue; // node: builtins and npm packages
        const to = normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts');
        const line = text.slice(0, m.index).split('\n').length;
        edges.push({ from, to, line });
      }
    }
  }
  return edges;
}

/** Strongly connected components with more than one file (or a file importing itself): the cycles. */
export function importCycles(edges: readonly ImportEdge[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const e of edges) {
    graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    if (!graph.has(e.to)) graph.set(e.to, []);
  }
  // Tarjan's algorithm, iterative so deep chains cannot overflow the stack.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter); low.set(start, counter); counter++;
    stack.push(start); onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = graph.get(frame.node)!;
      if (frame.next < targets.length) {
        const t = targets[frame.next++]!;
        if (!index.has(t)) {
          index.set(t, counter); low.set(t, counter); counter++;
          stack.push(t); onStack.add(t);
          work.push({ node: t, next: 0 });
        } else if (onStack.has(t)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(t)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        for (;;) {
          const n = stack.pop()!;
          onStack.delete(n);
          component.push(n);
          if (n === frame.node) break;
        }
        const selfLoop = component.length === 1 && targets.includes(frame.node);
        if (component.length > 1 || selfLoop) cycles.push(component.sort());
      }
    }
  }
  return cycles;
}
