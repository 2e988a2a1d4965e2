/**
 * Writes a pod's /etc/resolv.conf and /etc/hosts into its directory (mounted into every container),
 * from the pure renderers and the node's resolver configuration: the `--resolv-conf` file when set,
 * else /etc/resolv.conf, or systemd-resolved's upstream file when /etc/resolv.conf names only a
 * loopback stub a pod cannot reach.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pod } from '../../api/types.js';
import { HOST_RESOLV_CONF_PATHS, parseResolvConf, pickHostResolvConf, podResolvConf, renderResolvConf, type ClusterDnsSettings, type ResolvConf } from './dns-config.js';
import { renderHostsFile } from './hosts-file.js';

export const POD_RESOLV_CONF = 'resolv.conf';
export const POD_HOSTS = 'hosts';

/** The node's resolver configuration (empty when no file can be read). */
export async function readHostResolvConf(resolvConfPath?: string): Promise<{ path: string; conf: ResolvConf } | undefined> {
  const paths = resolvConfPath ? [resolvConfPath] : [...HOST_RESOLV_CONF_PATHS];
  const candidates = await Promise.all(paths.map(async (path) => ({ path, text: await readFile(path, 'utf8').catch(() => undefined) })));
  const picked = pickHostResolvConf(candidates);
  return picked ? { path: picked.path, conf: parseResolvConf(picked.text) } : undefined;
}

export interface PodDnsFilesInput {
  dir: string;
  pod: Pod;
  podIp: string;
  settings: ClusterDnsSettings;
  resolvConfPath?: string | undefined;
}

/** Writes both files; returns the limit warnings (kubelet records them as DNSConfigForming events). */
export async function writePodDnsFiles(input: PodDnsFilesInput): Promise<string[]> {
  const host = (await readHostResolvConf(input.resolvConfPath))?.conf ?? { nameservers: [], searches: [], options: [] };
  const { conf, warnings } = podResolvConf(input.pod, host, input.settings);
  await writeFile(join(input.dir, POD_RESOLV_CONF), renderResolvConf(conf));
  await writeFile(join(input.dir, POD_HOSTS), renderHostsFile({ pod: input.pod, podIp: input.podIp, clusterDomain: input.settings.clusterDomain }));
  return warnings;
}
