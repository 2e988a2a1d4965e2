/** TokenRequest for a pod's service account, bound to the pod (what kubelet asks for a projected token). */
import type { ApiClient } from '../../api/client/client.js';
import type { Pod } from '../../api/types.js';

export async function requestPodToken(client: ApiClient, pod: Pod, o: { audience?: string; expirationSeconds: number }): Promise<{ token: string; expirationTimestamp: string }> {
  const ns = encodeURIComponent(pod.metadata.namespace ?? 'default');
  const sa = encodeURIComponent(pod.spec.serviceAccountName || 'default');
  const answer = await client.call<{ status: { token: string; expirationTimestamp: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
    spec: {
      ...(o.audience ? { audiences: [o.audience] } : {}),
      expirationSeconds: o.expirationSeconds,
      boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid },
    },
  });
  return answer.status;
}
