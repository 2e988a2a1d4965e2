/**
 * The image presence cache of the containerd driver: a container start asks for the same image three
 * times (pull policy, config, imageID) and 30 pods of one image ask 90 times; only the first costs a
 * `ctr images ls`. Absence is never cached, and pulls/removals/imports through the driver refresh it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pullFailure } from '../../agent/pods/images.js';
import { ImageService } from '../../agent/runtime/images.js';
import type { Ctr } from '../../agent/runtime/ctr.js';

const LS_HEADER = 'REF TYPE DIGEST SIZE PLATFORMS LABELS';
const BUSYBOX = 'docker.io/library/busybox:latest application/vnd.oci.image.manifest.v1+json sha256:aaaa 1.2 MiB linux/amd64 -';

function fakeCtr(present: { value: boolean }): { ctr: Ctr; calls: string[][] } {
  const calls: string[][] = [];
  const ctr = {
    async call(args: readonly string[]) {
      calls.push([...args]);
      if (args[0] === 'images' && args[1] === 'ls') return { code: 0, signal: null, stdout: `${LS_HEADER}\n${present.value ? BUSYBOX : ''}\n`, stderr: '', timedOut: false, aborted: false };
      return { code: 0, signal: null, stdout: '', stderr: '', timedOut: false, aborted: false };
    },
  } as unknown as Ctr;
  return { ctr, calls };
}

test('a present image is listed once for many questions', async () => {
  const present = { value: true };
  const { ctr, calls } = fakeCtr(present);
  const images = new ImageService(ctr);
  for (let i = 0; i < 90; i++) assert.ok(await images.exists('busybox'));
  assert.is(calls.filter((c) => c[1] === 'ls').length, 1);
});

test('absence is not cached: an image that appears is seen at once', async () => {
  const present = { value: false };
  const { ctr, calls } = fakeCtr(present);
  const images = new ImageService(ctr);
  assert.not.ok(await images.exists('busybox'));
  present.value = true;
  assert.ok(await images.exists('busybox'));
  assert.is(calls.filter((c) => c[1] === 'ls').length, 2);
});

test('removal through the driver, and the time limit, make it ask again', async () => {
  const present = { value: true };
  const { ctr, calls } = fakeCtr(present);
  const images = new ImageService(ctr, 50);
  assert.ok(await images.exists('busybox'));
  present.value = false;
  await images.remove('busybox');
  assert.not.ok(await images.exists('busybox'), 'removed: listed again');
  present.value = true;
  assert.ok(await images.exists('busybox'));
  await new Promise((r) => setTimeout(r, 60));
  present.value = false;
  assert.not.ok(await images.exists('busybox'), 'removed behind our back: noticed after the time limit');
  assert.is(calls.filter((c) => c[1] === 'ls').length, 4);
});

test('a failed pull is reported by its last line, without ctr\'s timestamped progress (so its Event is counted, not repeated)', () => {
  const out = 'ctr images pull: time="2026-12-05T12:28:25Z" level=info msg="trying next host" error="dial tcp 127.0.0.1:1: connect: connection refused"\n' +
    'ctr: failed to resolve reference "127.0.0.1:1/no/such-image:1.0": failed to do request: Head "http://127.0.0.1:1/v2/no/such-image/manifests/1.0": dial tcp 127.0.0.1:1: connect: connection refused\n';
  assert.is(pullFailure(out), 'failed to resolve reference "127.0.0.1:1/no/such-image:1.0": failed to do request: Head "http://127.0.0.1:1/v2/no/such-image/manifests/1.0": dial tcp 127.0.0.1:1: connect: connection refused');
  assert.is(pullFailure('boom'), 'boom');
});

/** A ctr whose content store holds the given JSON documents by digest; `images ls` lists `ref` at `top`. */
function contentCtr(top: string, mediaType: string, docs: Record<string, unknown>): { ctr: Ctr; calls: string[][] } {
  const calls: string[][] = [];
  const ok = (stdout: string) => ({ code: 0, signal: null, stdout, stderr: '', timedOut: false, aborted: false });
  const ctr = {
    async call(args: readonly string[]) {
      calls.push([...args]);
      if (args[0] === 'images' && args[1] === 'ls') return ok(`${LS_HEADER}\ndocker.io/library/busybox:latest ${mediaType} ${top} 1.2 MiB linux/arm64/v8 -\n`);
      if (args[0] === 'content' && args[1] === 'get') return ok(JSON.stringify(docs[args[2]!]));
      throw new Error(`unexpected ctr ${args.join(' ')}`);
    },
  } as unknown as Ctr;
  return { ctr, calls };
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

test('an image whose only manifest is for another architecture is refused with both platforms named; the answer is cached', async () => {
  const { ctr, calls } = contentCtr('sha256:m', OCI_MANIFEST, {
    'sha256:m': { mediaType: OCI_MANIFEST, config: { digest: 'sha256:c' }, layers: [] },
    'sha256:c': { os: 'linux', architecture: 'arm64', variant: 'v8', config: {} },
  });
  const images = new ImageService(ctr);
  const why = await images.platformMismatch('busybox', {}, 'amd64');
  assert.is(why, 'no match for platform in manifest: the image has linux/arm64/v8, this node is linux/amd64');
  assert.is(await images.platformMismatch('busybox', {}, 'arm64'), undefined);
  await images.platformMismatch('busybox', {}, 'amd64');
  assert.is(calls.filter((c) => c[0] === 'content').length, 4, 'two digests read per architecture asked, once each');
});

test('an index runs where it has a linux/<arch> manifest and is refused elsewhere, listing what it has', async () => {
  const { ctr } = contentCtr('sha256:i', OCI_INDEX, {
    'sha256:i': { mediaType: OCI_INDEX, manifests: [
      { digest: 'sha256:a', platform: { os: 'linux', architecture: 'amd64' } },
      { digest: 'sha256:b', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { digest: 'sha256:x', platform: { os: 'unknown', architecture: 'unknown' } },
    ] },
  });
  const images = new ImageService(ctr);
  assert.is(await images.platformMismatch('busybox', {}, 'amd64'), undefined);
  assert.is(await images.platformMismatch('busybox', {}, 'arm64'), undefined);
  assert.is(await images.platformMismatch('busybox', {}, 'riscv64'), 'no match for platform in manifest: the image has linux/amd64, linux/arm64/v8, this node is linux/riscv64');
});

test.run();
