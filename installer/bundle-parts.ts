/**
 * The agent bundle's file layout: one file on disk and on the wire, of which only the code an agent runs
 * stays in its memory.
 *
 * V8 keeps a script's whole source text for as long as any function made from it lives, so every byte of a
 * bundle run as one script is resident in every agent, code that only a helper child or a rare path ever
 * runs included (docs/performance.md, "Agent memory", sixth round). The file is therefore a one-line loader
 * followed by sections, each a bundle of its own, written as `//` comment lines:
 *   - `main`: the agent (installer/agent-entry.ts and everything it imports statically);
 *   - one part per module the agent imports dynamically (the helper child's jobs, the probe helper, yaml,
 *     the Tasks encoder...), loaded when that import first runs.
 * The loader opens the file, reads `main`, compiles it with `vm.compileFunction` and has it run on the
 * next tick. None of the loader's functions outlives it, and none is on the stack while `main` runs (a
 * stack trace captured there would hold it), so the file's full text, the loader's own source, is
 * garbage once `main` starts. A part is read back through the same descriptor, which stays open, so an agent whose file was
 * replaced by an upgrade (rename over it) still reads its own build until it restarts.
 *
 * Every section starts with a header line naming the build and the section, checked when it is read.
 * Parts are gzipped and base64-encoded, so the file, which is one string in memory while the loader runs,
 * stays small. `main` is plain code: the `//` prefix of each line is all that separates it from the
 * loader, so it holds no line terminator but `\n`, and it must be ASCII (esbuild's default charset
 * escapes the rest; the build checks), or V8 would keep it as a two-byte string, twice the memory.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';

/** Byte offset and length of each section, by name; what the loader and the parts' reader look up. */
export type SectionIndex = Record<string, readonly [number, number]>;

const WIDTH = 10;

function asComment(code: string): string {
  return code.split('\n').map((line) => `//${line}`).join('\n') + '\n';
}

function header(build: string, name: string): string {
  return `@corral ${build} ${name}`;
}

/**
 * Reads a section back: shared by the loader and `__corralPart` as source text (each a string of code,
 * so that the loader's copy dies with the loader). `fd`, `index`, `build` and `name` are in scope there.
 * Parts are gzipped (base64): the whole file is one string in memory while the loader runs.
 */
const READ_SECTION = (fdVar: string, indexVar: string, buildExpr: string, nameExpr: string, gzipped: boolean): string =>
  `(()=>{const at=${indexVar}[${nameExpr}];if(!at)throw new Error("the agent bundle "+__filename+" has no part "+${nameExpr}+": reinstall it");` +
  `const b=Buffer.allocUnsafe(at[1]);if(require("node:fs").readSync(${fdVar},b,0,at[1],at[0])!==at[1])throw new Error("the agent bundle "+__filename+" is truncated: reinstall it");` +
  `const t=b.toString("utf8").replace(/^\\/\\//gm,""),nl=t.indexOf("\\n");` +
  `if(t.slice(0,nl)!=="@corral "+${buildExpr}+" "+${nameExpr})throw new Error("the agent bundle "+__filename+" is damaged (part "+${nameExpr}+"): reinstall it");` +
  (gzipped ? 'return require("node:zlib").gunzipSync(Buffer.from(t.slice(nl+1),"base64")).toString("utf8")})()' : 'return t.slice(nl+1)})()');

/** The loader: the file's first line. The index's numbers are fixed-width, so its length is known before they are. */
function loader(build: string, index: SectionIndex): string {
  const entries = Object.entries(index).map(([name, [at, length]]) => `${JSON.stringify(name)}:[${String(at).padStart(WIDTH)},${String(length).padStart(WIDTH)}]`);
  return `"use strict";(()=>{const fd=require("node:fs").openSync(__filename,"r"),index={${entries.join(',')}},` +
    `main=require("node:vm").compileFunction(${READ_SECTION('fd', 'index', JSON.stringify(build), '"main"', false)},["exports","require","module","__filename","__dirname","__corralBundle"],{filename:__filename})` +
    `;process.nextTick(Reflect.apply,main,module.exports,[module.exports,require,module,__filename,__dirname,{fd,index,build:${JSON.stringify(build)}}])})();\n`;
}

/**
 * The start of `main`'s code: `__corralPart(name)` compiles a part and returns its `module.exports`
 * (the loader passes `__corralBundle`: the open descriptor, the index and the build).
 */
export const PART_READER_BANNER = 'var __corralPart=(name)=>{const m={exports:{}};' +
  `require("node:vm").compileFunction(${READ_SECTION('__corralBundle.fd', '__corralBundle.index', '__corralBundle.build', 'name', true)},["exports","require","module","__filename","__dirname"],{filename:__filename+"#"+name})` +
  '.call(m.exports,m.exports,require,m,__filename,__dirname);return m.exports};';

/** What a dynamic import of part `name` becomes inside `main`. */
export function partStub(name: string): string {
  return `module.exports = __corralPart(${JSON.stringify(name)});\n`;
}

/** Lays out the file: the loader, then `main`, then the parts. Throws on code the `//` layout cannot hold. */
export function assembleBundle(main: string, parts: ReadonlyMap<string, string>): string {
  const bad = /[^\n\x20-\x7e\t]/.exec(main);
  if (bad) throw new Error(`the agent bundle's main section holds ${JSON.stringify(bad[0])} at ${bad.index}: it must be ASCII`);
  const sections = new Map<string, string>([['main', main], ...[...parts].map(([name, code]) => [name, gzipSync(code, { level: 9 }).toString('base64')] as const)]);
  const build = createHash('sha256').update([...sections].map(([n, c]) => `${n}\n${c}`).join('\0')).digest('hex').slice(0, 16);
  const bodies = [...sections].map(([name, text]) => [name, asComment(`${header(build, name)}\n${text}`)] as const);
  const placeholder: SectionIndex = Object.fromEntries(bodies.map(([name]) => [name, [0, 0]]));
  let at = Buffer.byteLength(loader(build, placeholder));
  const index: Record<string, [number, number]> = {};
  for (const [name, body] of bodies) {
    const bytes = Buffer.byteLength(body);
    index[name] = [at, bytes];
    at += bytes;
  }
  return loader(build, index) + bodies.map(([, body]) => body).join('');
}

/** The sections of a bundle file, parts decompressed (tests read them). */
export function bundleSections(bytes: Buffer): Map<string, string> {
  const firstLine = bytes.subarray(0, bytes.indexOf('\n')).toString('utf8');
  const sections = new Map<string, string>();
  for (const m of firstLine.matchAll(/"([^"]+)":\[ *(\d+), *(\d+)\]/g)) {
    const body = bytes.subarray(Number(m[2]), Number(m[2]) + Number(m[3])).toString('utf8').replace(/^\/\//gm, '');
    const text = body.slice(body.indexOf('\n') + 1);
    sections.set(m[1]!, m[1] === 'main' ? text : gunzipSync(Buffer.from(text, 'base64')).toString('utf8'));
  }
  return sections;
}
