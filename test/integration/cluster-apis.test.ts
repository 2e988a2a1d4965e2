/**
 * Small APIs conformance and charts rely on, inside a real `corral server` with kubectl v1.32: the
 * `kube-root-ca.crt` ConfigMap in every namespace (created for a new namespace, put back when
 * deleted or edited).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConfigMap } from '../../api/types.js';
import { kubectl, ServerProcess, type KubectlResult } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess }>('cluster apis');

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> => waitUntil(what, fn, timeoutMs);

async function k(server: ServerProcess, args: string[], input?: string): Promise<KubectlResult> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

it('kube-root-ca.crt: in every namespace, a new one at once, put back when deleted or edited', async ({ server }) => {
  const rootCa = (ns: string) => async (): Promise<ConfigMap | undefined> => {
    const cm = await server.client.tryGet<ConfigMap>('ConfigMap', ns, 'kube-root-ca.crt');
    return cm?.data?.['ca.crt'] === server.caPem ? cm : undefined;
  };
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) await waitFor(`kube-root-ca.crt in ${ns}`, rootCa(ns));
  await k(server, ['create', 'namespace', 'fresh']);
  const cm = await waitFor('kube-root-ca.crt in a new namespace', rootCa('fresh'));
  assert.match(cm.metadata.annotations?.['kubernetes.io/description'] ?? '', 'verify the kube-apiserver');
  const printed = await k(server, ['-n', 'fresh', 'get', 'configmap', 'kube-root-ca.crt', '-o', 'jsonpath={.data.ca\\.crt}']);
  assert.is(printed.stdout, server.caPem);

  await k(server, ['-n', 'fresh', 'delete', 'configmap', 'kube-root-ca.crt']);
  const again = await waitFor('kube-root-ca.crt re-created', rootCa('fresh'));
  assert.is.not(again.metadata.uid, cm.metadata.uid);
  await k(server, ['-n', 'fresh', 'patch', 'configmap', 'kube-root-ca.crt', '-p', '{"data":{"ca.crt":"not a CA"}}']);
  await waitFor('kube-root-ca.crt restored after an edit', async () => {
    const now = await rootCa('fresh')();
    return now && now.metadata.resourceVersion !== again.metadata.resourceVersion && now;
  });
  await k(server, ['delete', 'namespace', 'fresh']);
});

it.run();
