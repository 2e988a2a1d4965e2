/**
 * The Events kubelet records about pods, with its reasons and messages, so `kubectl describe pod` and
 * `kubectl events` read the same as on any Kubernetes node. Container events name the container in
 * `involvedObject.fieldPath` (`spec.containers{web}`), as kubelet does.
 */
import type { EventRecorder } from '../../api/machinery/events.js';
import type { Pod } from '../../api/types.js';

export type ProbeKindName = 'Liveness' | 'Readiness' | 'Startup';

export class PodEvents {
  constructor(private readonly recorder: EventRecorder | undefined) {}

  private container(pod: Pod, name: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const init = (pod.spec.initContainers ?? []).some((c) => c.name === name);
    this.recorder?.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, type, reason, message, `spec.${init ? 'initContainers' : 'containers'}{${name}}`);
  }

  pulling(pod: Pod, container: string, image: string): void {
    this.container(pod, container, 'Normal', 'Pulling', `Pulling image "${image}"`);
  }

  pulled(pod: Pod, container: string, image: string, ms: number): void {
    this.container(pod, container, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${(ms / 1000).toFixed(3)}s`);
  }

  alreadyPresent(pod: Pod, container: string, image: string): void {
    this.container(pod, container, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
  }

  /** A pull that failed (ErrImagePull), the pull policy forbidding one (ErrImageNeverPull), a bad name. */
  imageFailed(pod: Pod, container: string, reason: string, message: string): void {
    if (reason === 'ErrImagePull') this.container(pod, container, 'Warning', 'Failed', message);
    else this.container(pod, container, 'Warning', reason, message);
    this.container(pod, container, 'Warning', 'Failed', `Error: ${reason}`);
  }

  /** The next pull of a failing image waits (ImagePullBackOff). */
  imageBackOff(pod: Pod, container: string, image: string): void {
    this.container(pod, container, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
    this.container(pod, container, 'Warning', 'Failed', 'Error: ImagePullBackOff');
  }

  /** The container could not be created or started (config error, runc refused the process). */
  failed(pod: Pod, container: string, message: string): void {
    this.container(pod, container, 'Warning', 'Failed', `Error: ${message}`);
  }

  /** The pod's sandbox cannot be made (e.g. its RuntimeClass names a handler this node lacks). */
  /** kubelet's event for a pod it cannot admit (no free device although the scheduler placed it here). */
  admissionFailed(pod: Pod, message: string): void {
    this.recorder?.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'UnexpectedAdmissionError', message);
  }

  deadlineExceeded(pod: Pod): void {
    this.recorder?.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Normal', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline');
  }

  sandboxFailed(pod: Pod, message: string): void {
    this.recorder?.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${message}`);
  }

  created(pod: Pod, container: string): void {
    this.container(pod, container, 'Normal', 'Created', `Created container: ${container}`);
  }

  started(pod: Pod, container: string): void {
    this.container(pod, container, 'Normal', 'Started', `Started container ${container}`);
  }

  killing(pod: Pod, container: string, why?: string): void {
    this.container(pod, container, 'Normal', 'Killing', why ?? `Stopping container ${container}`);
  }

  crashBackOff(pod: Pod, container: string): void {
    const m = pod.metadata;
    this.container(pod, container, 'Warning', 'BackOff', `Back-off restarting failed container ${container} in pod ${m.name}_${m.namespace}(${m.uid})`);
  }

  /** The pod's DNS settings were cut to the resolver's limits (kubelet's DNSConfigForming). */
  dnsConfigForming(pod: Pod, message: string): void {
    this.recorder?.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'DNSConfigForming', message);
  }

  /** kubelet's eviction manager stopped the pod (here: a disk emptyDir over its sizeLimit). */
  evicted(pod: Pod, message: string): void {
    this.recorder?.record({ ...pod, apiVersion: 'v1', kind: 'Pod' }, 'Warning', 'Evicted', message);
  }

  unhealthy(pod: Pod, container: string, kind: ProbeKindName, output: string): void {
    this.container(pod, container, 'Warning', 'Unhealthy', `${kind} probe failed: ${output}`);
  }
}
