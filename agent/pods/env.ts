/**
 * A container's environment as kubelet builds it: the service variables of the pod's namespace
 * (`{SVC}_SERVICE_HOST`, `{SVC}_PORT_80_TCP`, ...) first, then envFrom, then env (literal values,
 * fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef), with `$(VAR)` references expanded.
 */
import type { Container, Pod, Service } from '../../api/types.js';

export interface EnvSources {
  /** Reads a ConfigMap's or Secret's data (Secret values already decoded); undefined when missing. */
  configMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  secret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Services of the pod's namespace (for the service variables). */
  services(namespace: string): Service[];
}

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

function envName(service: string): string {
  return service.toUpperCase().replace(/-/g, '_');
}

/** Docker-links style variables of every service with a ClusterIP, like kubelet's. */
export function serviceEnv(services: readonly Service[]): [string, string][] {
  const out: [string, string][] = [];
  const sorted = [...services].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
  for (const svc of sorted) {
    const ip = svc.spec.clusterIP;
    if (!ip || ip === 'None') continue;
    const name = envName(svc.metadata.name!);
    const ports = svc.spec.ports ?? [];
    if (ports.length === 0) continue;
    const first = ports[0]!;
    out.push([`${name}_SERVICE_HOST`, ip], [`${name}_SERVICE_PORT`, String(first.port)]);
    for (const p of ports) if (p.name) out.push([`${name}_SERVICE_PORT_${envName(p.name)}`, String(p.port)]);
    const proto = (first.protocol ?? 'TCP').toLowerCase();
    out.push([`${name}_PORT`, `${proto}://${ip}:${first.port}`]);
    for (const p of ports) {
      const pr = (p.protocol ?? 'TCP');
      const prefix = `${name}_PORT_${p.port}_${pr}`;
      out.push([prefix, `${pr.toLowerCase()}://${ip}:${p.port}`], [`${prefix}_PROTO`, pr.toLowerCase()], [`${prefix}_PORT`, String(p.port)], [`${prefix}_ADDR`, ip]);
    }
  }
  return out;
}

/** Values a fieldRef may name. */
export function fieldRefValue(pod: Pod, fieldPath: string, podIp: string, hostIp: string): string {
  const m = pod.metadata;
  switch (fieldPath) {
    case 'metadata.name': return m.name ?? '';
    case 'metadata.namespace': return m.namespace ?? '';
    case 'metadata.uid': return m.uid ?? '';
    case 'spec.nodeName': return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP': case 'status.podIPs': return podIp;
    case 'status.hostIP': case 'status.hostIPs': return hostIp;
  }
  const label = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
  if (label) return m.labels?.[label[1]!] ?? '';
  const ann = /^metadata\.annotations\['(.+)'\]$/.exec(fieldPath);
  if (ann) return m.annotations?.[ann[1]!] ?? '';
  throw new EnvError(`unsupported fieldRef ${fieldPath}`);
}

/** `$(VAR)` → value of VAR defined earlier; `$$(VAR)` → literal `$(VAR)`; unknown references stay. */
export function expandRefs(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && vars.has(name) ? vars.get(name)! : whole;
  });
}

export async function buildEnv(pod: Pod, container: Container, podIp: string, hostIp: string, src: EnvSources): Promise<[string, string][]> {
  const namespace = pod.metadata.namespace ?? 'default';
  const vars = new Map<string, string>();
  const linked = pod.spec.enableServiceLinks !== false ? src.services(namespace) : [];
  // Like kubelet, every pod gets the master service's variables (KUBERNETES_SERVICE_HOST/_PORT, ...)
  // whatever its namespace and enableServiceLinks: in-cluster clients find the API with them.
  const master = linked.some((s) => s.metadata.name === 'kubernetes' && namespace === 'default')
    ? [] : src.services('default').filter((s) => s.metadata.name === 'kubernetes');
  for (const [k, v] of serviceEnv([...linked, ...master])) vars.set(k, v);
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const data = await src.configMap(namespace, from.configMapRef.name);
      if (!data && !from.configMapRef.optional) throw new EnvError(`configmap "${from.configMapRef.name}" not found`);
      for (const [k, v] of Object.entries(data ?? {})) vars.set(prefix + k, v);
    }
    if (from.secretRef) {
      const data = await src.secret(namespace, from.secretRef.name);
      if (!data && !from.secretRef.optional) throw new EnvError(`secret "${from.secretRef.name}" not found`);
      for (const [k, v] of Object.entries(data ?? {})) vars.set(prefix + k, v);
    }
  }
  for (const e of container.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) {
      vars.set(e.name, expandRefs(e.value ?? '', vars));
      continue;
    }
    if (vf.fieldRef) vars.set(e.name, fieldRefValue(pod, vf.fieldRef.fieldPath, podIp, hostIp));
    else if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const value = (await src.configMap(namespace, ref.name))?.[ref.key];
      if (value === undefined && !ref.optional) throw new EnvError(`couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name}`);
      if (value !== undefined) vars.set(e.name, value);
    } else if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const value = (await src.secret(namespace, ref.name))?.[ref.key];
      if (value === undefined && !ref.optional) throw new EnvError(`couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}`);
      if (value !== undefined) vars.set(e.name, value);
    } else if (vf.resourceFieldRef) {
      const r = vf.resourceFieldRef;
      const c = r.containerName ? [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((x) => x.name === r.containerName) ?? container : container;
      const [kind, resource] = r.resource.split('.') as [string, string];
      vars.set(e.name, c.resources?.[kind === 'limits' ? 'limits' : 'requests']?.[resource] ?? '0');
    }
  }
  return [...vars];
}
