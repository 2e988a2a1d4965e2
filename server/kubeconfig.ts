/**
 * Admin kubeconfig: the cluster CA, the server URL and a bearer token, as kubectl reads it. Written
 * as YAML by hand, every value a double-quoted scalar (JSON's string syntax is YAML's), so the server
 * does not load a YAML library at each start for one fixed-shape file.
 */

export interface KubeconfigInput {
  serverUrl: string;
  caPem: string;
  token: string;
  clusterName?: string;
  userName?: string;
}

export function renderKubeconfig(k: KubeconfigInput): string {
  const q = JSON.stringify;
  const cluster = q(k.clusterName ?? 'corral');
  const user = q(k.userName ?? 'admin');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `  - name: ${cluster}`,
    '    cluster:',
    `      server: ${q(k.serverUrl)}`,
    `      certificate-authority-data: ${q(Buffer.from(k.caPem).toString('base64'))}`,
    'users:',
    `  - name: ${user}`,
    '    user:',
    `      token: ${q(k.token)}`,
    'contexts:',
    `  - name: ${cluster}`,
    '    context:',
    `      cluster: ${cluster}`,
    `      user: ${user}`,
    `current-context: ${cluster}`,
    'preferences: {}',
    '',
  ].join('\n');
}
