/**
 * A pod's /etc/hosts, as kubelet writes it (pure): the localhost entries, the pod's IP with its
 * hostname (and, with hostname + subdomain, its FQDN `<hostname>.<subdomain>.<ns>.svc.<domain>` first),
 * then the pod's hostAliases. A hostNetwork pod gets the node's own hosts file plus its hostAliases.
 */
import type { Pod } from '../../api/types.js';

const HEADER = '# Kubernetes-managed hosts file.';
const LOCAL_ENTRIES = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'fe00::0\tip6-mcastprefix',
  'fe00::1\tip6-allnodes',
  'fe00::2\tip6-allrouters',
];

/** The pod's hostname: spec.hostname, else its name cut to a 63-character label (no trailing '-' or '.'). */
export function podHostname(pod: Pod): string {
  if (pod.spec.hostname) return pod.spec.hostname;
  return (pod.metadata.name ?? '').slice(0, 63).replace(/[-.]+$/, '');
}

/** `<hostname>.<subdomain>.<ns>.svc.<domain>` when the pod has a subdomain, else undefined. */
export function podFqdn(pod: Pod, clusterDomain: string): string | undefined {
  if (!pod.spec.subdomain) return undefined;
  return `${podHostname(pod)}.${pod.spec.subdomain}.${pod.metadata.namespace ?? 'default'}.svc.${clusterDomain}`;
}

function hostAliasLines(pod: Pod): string[] {
  const aliases = pod.spec.hostAliases ?? [];
  if (aliases.length === 0) return [];
  return ['', '# Entries added by HostAliases.', ...aliases.filter((a) => (a.hostnames ?? []).length > 0).map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}`)];
}

export interface HostsFileInput {
  pod: Pod;
  /** The IP the pod got (its netns address); empty for hostNetwork pods. */
  podIp: string;
  clusterDomain: string;
  /** The node's /etc/hosts, for hostNetwork pods. */
  nodeHosts?: string;
}

export function renderHostsFile(input: HostsFileInput): string {
  const { pod } = input;
  if (pod.spec.hostNetwork) {
    const base = (input.nodeHosts ?? LOCAL_ENTRIES.join('\n')).replace(/\n*$/, '');
    return `${[base, ...hostAliasLines(pod)].join('\n')}\n`;
  }
  const lines = [HEADER, ...LOCAL_ENTRIES];
  const hostname = podHostname(pod);
  const fqdn = podFqdn(pod, input.clusterDomain);
  if (input.podIp !== '') lines.push(fqdn ? `${input.podIp}\t${fqdn}\t${hostname}` : `${input.podIp}\t${hostname}`);
  lines.push(...hostAliasLines(pod));
  return `${lines.join('\n')}\n`;
}
