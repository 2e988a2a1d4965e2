/**
 * The Job selector the API server generates when `manualSelector` is not set (upstream does it in
 * the Job strategy): the selector matches `batch.kubernetes.io/controller-uid=<uid>`, and the pod
 * template carries that label plus `controller-uid`, `job-name` and `batch.kubernetes.io/job-name`,
 * so a Job's pods can never be confused with another Job's of the same name.
 */
import type { KubeObject } from '../../../api/meta.js';
import type { Job } from '../../../api/types.js';
import type { ResourceInfo } from '../../../api/resources.js';
import type { AdmissionPlugin } from '../registry.js';

export const LABEL_CONTROLLER_UID = 'batch.kubernetes.io/controller-uid';
export const LABEL_LEGACY_CONTROLLER_UID = 'controller-uid';
export const LABEL_JOB_NAME = 'batch.kubernetes.io/job-name';
export const LABEL_LEGACY_JOB_NAME = 'job-name';

export function jobSelectorPlugin(): AdmissionPlugin {
  return {
    name: 'JobSelector',
    async admitCreate(info: ResourceInfo, obj: KubeObject) {
      if (info.kind !== 'Job' || info.group !== 'batch') return;
      const job = obj as Job;
      if (job.spec?.manualSelector === true || !job.spec?.template) return;
      const uid = job.metadata.uid!;
      const name = job.metadata.name!;
      const template = job.spec.template;
      template.metadata = template.metadata ?? {};
      template.metadata.labels = {
        ...(template.metadata.labels ?? {}),
        [LABEL_CONTROLLER_UID]: uid,
        [LABEL_LEGACY_CONTROLLER_UID]: uid,
        [LABEL_JOB_NAME]: name,
        [LABEL_LEGACY_JOB_NAME]: name,
      };
      job.spec.selector = { matchLabels: { [LABEL_CONTROLLER_UID]: uid } };
    },
  };
}
