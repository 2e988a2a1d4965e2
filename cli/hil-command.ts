/**
 * `corral hil run --device usb-0403-6001 --image IMG -- CMD...`: a hardware-in-the-loop test run as a
 * Kubernetes Job. The Job's one pod asks for one unit of the device resource, so it runs only where
 * such a device is free and queues (Pending, FailedScheduling) while every one is leased; it has
 * `activeDeadlineSeconds` (enforced by the agent on the board) and no retries. The command streams the
 * pod's log and exits with the test's exit code — what a CI pipeline needs to queue runs against a
 * shared rack of boards. The Job stays afterwards (its pod's log with it: `kubectl logs job/NAME`)
 * unless `--rm`; Ctrl-C deletes it.
 */
import { ApiClient } from '../api/client/client.js';
import { HttpsTransport } from '../api/client/transport.js';
import { DEVICE_RESOURCE_PREFIX } from '../api/device-resources.js';
import { isNotFound } from '../api/status.js';
import { sleep } from '../api/async-util.js';
import type { Job, Pod } from '../api/types.js';
import { dataDirOf, dataDirOption, parseDurationSeconds, str, type CliCommand } from './flags.js';
import { kubeconfigFiles, loadKubeconfig } from './kubeconfig-file.js';

/** The exit code when the run could not produce one (never scheduled, deleted, admission refused). */
export const HIL_NO_EXIT_CODE = 125;
const CONTAINER = 'hil';
/** The Job's deadline is the pod's plus this: the board stops the test first and the log stays. */
const JOB_DEADLINE_MARGIN_SECONDS = 60;
export const HIL_STOP_GRACE_SECONDS = 10;

export interface HilJobInput {
  name: string;
  namespace: string;
  device: string;
  image: string;
  command: string[];
  timeoutSeconds: number;
}

/** `usb-0403-6001` or `devices.corral.io/usb-0403-6001` → the resource name. */
export function deviceResourceName(device: string): string {
  const name = device.startsWith(DEVICE_RESOURCE_PREFIX) ? device : `${DEVICE_RESOURCE_PREFIX}${device}`;
  const suffix = name.slice(DEVICE_RESOURCE_PREFIX.length);
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(suffix) || suffix.length > 63) {
    throw new Error(`invalid --device "${device}": a device resource name like usb-0403-6001 or serial-rig (see kubectl describe node)`);
  }
  return name;
}

export function hilJob(i: HilJobInput): Job {
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: { name: i.name, namespace: i.namespace, labels: { 'app.kubernetes.io/managed-by': 'corral-hil' } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: i.timeoutSeconds + JOB_DEADLINE_MARGIN_SECONDS,
      template: {
        metadata: { labels: { 'app.kubernetes.io/managed-by': 'corral-hil' } },
        spec: {
          restartPolicy: 'Never',
          activeDeadlineSeconds: i.timeoutSeconds,
          // A test past its deadline gets SIGTERM and this long to clean up before SIGKILL.
          terminationGracePeriodSeconds: HIL_STOP_GRACE_SECONDS,
          containers: [{ name: CONTAINER, image: i.image, command: i.command, resources: { limits: { [deviceResourceName(i.device)]: '1' } } }],
        },
      },
    },
  } as Job;
}

function out(text: string): void {
  process.stderr.write(`corral hil: ${text}\n`);
}

async function jobPod(client: ApiClient, namespace: string, job: string): Promise<Pod | undefined> {
  const list = await client.list<Pod>('Pod', namespace, { labelSelector: `batch.kubernetes.io/job-name=${job}` });
  return list.items.sort((a, b) => ((a.metadata.creationTimestamp ?? '') < (b.metadata.creationTimestamp ?? '') ? 1 : -1))[0];
}

const started = (p: Pod): boolean => (p.status?.containerStatuses ?? []).some((c) => c.state?.running || c.state?.terminated);
const terminal = (p: Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** Streams the container's log (follow) to stdout until the container stops or the stream ends. */
async function streamLog(client: ApiClient, pod: Pod, signal: AbortSignal): Promise<void> {
  const ns = encodeURIComponent(pod.metadata.namespace ?? 'default');
  const res = await client.transport.request({
    method: 'GET', path: `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod.metadata.name!)}/log?container=${CONTAINER}&follow=true`,
    headers: { accept: 'text/plain' }, signal,
  });
  if (res.status !== 200) {
    out(`cannot read the log (${res.status}): ${(await res.text()).slice(0, 300)}`);
    return;
  }
  for await (const chunk of res.body) process.stdout.write(chunk);
}

/** Runs the Job to its end; resolves with the exit code to leave with. */
export async function runHilJob(client: ApiClient, input: HilJobInput, o: { remove: boolean; signal: AbortSignal; pollMs?: number }): Promise<number> {
  await client.create('Job', input.namespace, hilJob(input));
  out(`job ${input.namespace}/${input.name} created: ${input.image} on ${deviceResourceName(input.device)}, deadline ${input.timeoutSeconds}s`);
  const poll = o.pollMs ?? 1000;
  let lastWait = '';
  let streamed = false;
  let pod: Pod | undefined;
  try {
    for (;;) {
      if (o.signal.aborted) return 130;
      pod = await jobPod(client, input.namespace, input.name);
      if (pod && !pod.spec.nodeName) {
        const why = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')?.message;
        if (why && why !== lastWait) out(`waiting for a free device: ${(lastWait = why)}`);
      }
      if (pod && !streamed && started(pod)) {
        out(`running on ${pod.spec.nodeName} as pod ${pod.metadata.name}`);
        streamed = true;
        await streamLog(client, pod, o.signal).catch((err: unknown) => { if (!o.signal.aborted) out(`log stream ended: ${(err as Error).message}`); });
        continue;
      }
      if (pod && terminal(pod)) break;
      const job = await client.tryGet<Job>('Job', input.namespace, input.name);
      if (!job) {
        out('the job was deleted');
        return HIL_NO_EXIT_CODE;
      }
      const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed && (!pod || terminal(pod))) {
        out(`job failed: ${failed.reason ?? ''}: ${failed.message ?? ''}`);
        return HIL_NO_EXIT_CODE;
      }
      await sleep(poll, { signal: o.signal }).catch(() => undefined);
    }
    const state = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated;
    if (pod.status?.reason) out(`pod ${pod.status.phase}: ${pod.status.reason}: ${pod.status.message ?? ''}`);
    if (!state) return HIL_NO_EXIT_CODE;
    out(`exit code ${state.exitCode}${o.remove ? '' : `; the log stays until the job is deleted: kubectl logs -n ${input.namespace} job/${input.name}`}`);
    return state.exitCode;
  } finally {
    if (o.remove || o.signal.aborted) {
      await client.delete('Job', input.namespace, input.name, { propagationPolicy: 'Background' }).catch((err: unknown) => {
        if (!isNotFound(err)) out(`cannot delete the job: ${(err as Error).message}`);
      });
    }
  }
}

export const hilCommand: CliCommand = {
  summary: 'hardware-in-the-loop: run a test as a Job on a board with a free device, stream its log, exit with its code',
  usage: 'corral hil run --device NAME --image IMAGE [--timeout 30m] [--name NAME] [--namespace default] [--rm]\n' +
    '                 [--kubeconfig FILE | --data-dir DIR] -- COMMAND [ARG...]\n' +
    '  --device names a devices.corral.io resource, e.g. usb-0403-6001 or serial-rig (kubectl describe node lists them).\n' +
    `  Exit code: the test's, ${HIL_NO_EXIT_CODE} when it never ran to an exit (job failed or deleted), 130 on Ctrl-C (the job is deleted).`,
  options: {
    ...dataDirOption,
    kubeconfig: { type: 'string' },
    device: { type: 'string' },
    image: { type: 'string' },
    timeout: { type: 'string' },
    name: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    rm: { type: 'boolean' },
  },
  async run(values, positionals) {
    const [sub, ...command] = positionals;
    if (sub !== 'run') throw new Error(`usage: ${hilCommand.usage}`);
    const device = str(values, 'device', 'DEVICE');
    const image = str(values, 'image', 'IMAGE');
    if (!device || !image || command.length === 0) throw new Error(`--device, --image and a command after -- are required\nusage: ${hilCommand.usage}`);
    const timeoutSeconds = parseDurationSeconds(str(values, 'timeout', 'TIMEOUT') ?? '30m');
    if (timeoutSeconds < 1) throw new Error('--timeout must be at least 1s');
    const name = str(values, 'name', 'NAME') ?? `hil-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const input: HilJobInput = { name, namespace: str(values, 'namespace', 'NAMESPACE') ?? 'default', device, image, command, timeoutSeconds };
    hilJob(input); // refuses a bad device name before anything is created
    // Found as kubectl finds it (cli/kubeconfig-file.ts).
    const kubeconfigFlag = typeof values['kubeconfig'] === 'string' ? values['kubeconfig'] : undefined;
    const access = await loadKubeconfig(kubeconfigFiles({ kubeconfigFlag, dataDir: dataDirOf(values) }), { explicit: kubeconfigFlag !== undefined });
    const transport = new HttpsTransport({ server: access.server, caPem: access.caPem, token: access.token, timeoutMs: 30_000 });
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigint);
    try {
      return await runHilJob(new ApiClient(transport), input, { remove: values['rm'] === true, signal: abort.signal });
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
      transport.close();
    }
  },
};
