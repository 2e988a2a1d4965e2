/** Admin kubeconfig: the cluster CA, the server URL and a bearer token, as kubectl reads it. */
import { stringify } from 'yaml';

export interface KubeconfigInput {
  serverUrl: string;
  caPem: string;
  token: string;
  clusterName?: string;
  userName?: string;
}

export function renderKubeconfig(k: KubeconfigInput): string {
  const cluster = k.clusterName ?? 'corral';
  const user = k.userName ?? 'admin';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: k.serverUrl, 'certificate-authority-data': Buffer.from(k.caPem).toString('base64') } }],
    users: [{ name: user, user: { token: k.token } }],
    contexts: [{ name: cluster, context: { cluster, user } }],
    'current-context': cluster,
    preferences: {},
  });
}
