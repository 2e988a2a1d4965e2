/**
 * Admin kubeconfig: the cluster CA, the server URL and a bearer token, as kubectl reads it. Written
 * as YAML by hand, so the server does not load a YAML library at each start for one fixed-shape file.
 * Values are plain scalars where that is safe, as kubeadm and k3s write them (users and scripts edit
 * `server: https://...` lines with sed), and double-quoted otherwise (JSON's string syntax is YAML's).
 */

/** Characters a plain scalar may hold here without any YAML meaning (no ': ', ' #', quotes or flow start). */
const PLAIN = /^[A-Za-z0-9][A-Za-z0-9+/=:._@\[\]-]*$/;

function scalar(value: string): string {
  return PLAIN.test(value) && !/^(true|false|yes|no|on|off|null|y|n|~)$/i.test(value) && !/^[-+.0-9][0-9._:eE+-]*$/.test(value) ? value : JSON.stringify(value);
}

export interface KubeconfigInput {
  serverUrl: string;
  caPem: string;
  token: string;
  clusterName?: string;
  userName?: string;
}

export function renderKubeconfig(k: KubeconfigInput): string {
  const q = scalar;
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
