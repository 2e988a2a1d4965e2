/**
 * Per-kind Table printers: the columns and cells upstream's pkg/printers/internalversion prints for
 * each built-in kind, so `kubectl get` looks the same against corral as against Kubernetes. The server
 * always fills the wide (priority 1) cells; kubectl hides them unless `-o wide`.
 *
 * Why this file is long: mostly data: kubectl's columns for each built-in kind, one small printer per
 * kind as upstream's printers.
 */
import type { KubeObject } from '../../api/meta.js';
import { rfc3339 } from '../../api/meta.js';
import type {
  ConfigMap, ControllerRevision, PodTemplate, CronJob, DaemonSet, Deployment, EndpointSlice, Endpoints, Event, Job, Lease, Namespace, Node, Pod,
  PodDisruptionBudget, PersistentVolume, PersistentVolumeClaim, ReplicaSet, ReplicationController, Secret, Service, ServiceAccount,
  StatefulSet, StorageClass,
  RoleBinding, ClusterRoleBinding, ResourceQuota,
} from '../../api/types.js';
import { DEFAULT_CLASS_ANNOTATION } from '../../api/storage-types.js';
import type { PriorityClass, RuntimeClass } from '../../api/scheduling-types.js';
import type { Ingress, IngressClass } from '../../api/networking-types.js';
import { containerCells, formatAge, formatLabels, humanDuration, joinHostPort, parseTime, selectorString } from './table-format.js';
import { printPod } from './table-pods.js';
import type { TableColumnDefinition, TablePrinter } from './table-types.js';

function col(name: string, description: string, options: { type?: string; format?: string; priority?: number } = {}): TableColumnDefinition {
  return { name, type: options.type ?? 'string', format: options.format ?? '', description, priority: options.priority ?? 0 };
}

const NAME = col('Name', 'Name of the object, unique within its namespace.', { format: 'name' });
const AGE = col('Age', 'Time since the object was created.');
const WIDE = { priority: 1 } as const;
const CONTAINERS = col('Containers', 'Names of the containers in the pod template.', WIDE);
const IMAGES = col('Images', 'Images of the containers in the pod template.', WIDE);
const SELECTOR = col('Selector', 'Label selector of the pods it manages.', WIDE);

const age = (obj: KubeObject, now: Date): string => formatAge(obj.metadata.creationTimestamp, now);
const nameOf = (obj: KubeObject): string => obj.metadata.name ?? '';

const pods: TablePrinter = {
  columns: [
    NAME,
    col('Ready', 'Ready containers out of all containers.'),
    col('Status', 'Summary of the pod and container states.'),
    col('Restarts', 'Container restarts, with the time since the last one.'),
    AGE,
    col('IP', 'The pod IP.', WIDE),
    col('Node', 'The node the pod is bound to.', WIDE),
    col('Nominated Node', 'The node the scheduler nominated after preemption.', WIDE),
    col('Readiness Gates', 'Readiness gates passed out of all gates.', WIDE),
  ],
  row: (obj, now) => printPod(obj as Pod, now),
};

/** Roles from `node-role.kubernetes.io/<role>` label keys and the legacy `kubernetes.io/role` value. */
function nodeRoles(labels: Record<string, string> | undefined): string {
  const roles = new Set<string>();
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (key.startsWith('node-role.kubernetes.io/')) {
      const role = key.slice('node-role.kubernetes.io/'.length);
      if (role !== '') roles.add(role);
    } else if (key === 'kubernetes.io/role' && value !== '') {
      roles.add(value);
    }
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

const nodes: TablePrinter = {
  columns: [
    NAME,
    col('Status', 'Ready, NotReady or Unknown, plus SchedulingDisabled when cordoned.'),
    col('Roles', 'Roles from the node-role labels.'),
    AGE,
    col('Version', 'Kubelet version reported by the node.'),
    col('Internal-IP', 'First InternalIP address.', WIDE),
    col('External-IP', 'First ExternalIP address.', WIDE),
    col('OS-Image', 'Operating system image.', WIDE),
    col('Kernel-Version', 'Kernel version.', WIDE),
    col('Container-Runtime', 'Container runtime and version.', WIDE),
  ],
  row: (obj, now) => {
    const node = obj as Node;
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    const status = [ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady'];
    if (node.spec?.unschedulable === true) status.push('SchedulingDisabled');
    const address = (type: string): string => node.status?.addresses?.find((a) => a.type === type)?.address ?? '<none>';
    const info = node.status?.nodeInfo;
    return {
      cells: [
        nameOf(node), status.join(','), nodeRoles(node.metadata.labels), age(node, now), info?.kubeletVersion ?? '',
        address('InternalIP'), address('ExternalIP'),
        info?.osImage || '<unknown>', info?.kernelVersion || '<unknown>', info?.containerRuntimeVersion || '<unknown>',
      ],
    };
  },
};

const deployments: TablePrinter = {
  columns: [
    NAME,
    col('Ready', 'Ready pods out of desired pods.'),
    col('Up-to-date', 'Pods running the current template.'),
    col('Available', 'Pods available to serve.'),
    AGE, CONTAINERS, IMAGES, SELECTOR,
  ],
  row: (obj, now) => {
    const d = obj as Deployment;
    const [names, images] = containerCells(d.spec?.template?.spec?.containers);
    const desired = d.spec?.replicas ?? 1;
    return {
      cells: [
        nameOf(d), `${d.status?.readyReplicas ?? 0}/${desired}`, d.status?.updatedReplicas ?? 0, d.status?.availableReplicas ?? 0,
        age(d, now), names, images, selectorString(d.spec?.selector),
      ],
    };
  },
};

const replicaColumns = [
  NAME,
  col('Desired', 'Desired number of pods.', { type: 'integer' }),
  col('Current', 'Pods that exist.', { type: 'integer' }),
  col('Ready', 'Pods that are ready.', { type: 'integer' }),
  AGE, CONTAINERS, IMAGES, SELECTOR,
];

const replicasets: TablePrinter = {
  columns: replicaColumns,
  row: (obj, now) => {
    const rs = obj as ReplicaSet;
    const [names, images] = containerCells(rs.spec?.template?.spec?.containers);
    return {
      cells: [
        nameOf(rs), rs.spec?.replicas ?? 1, rs.status?.replicas ?? 0, rs.status?.readyReplicas ?? 0,
        age(rs, now), names, images, selectorString(rs.spec?.selector),
      ],
    };
  },
};

const replicationcontrollers: TablePrinter = {
  columns: replicaColumns,
  row: (obj, now) => {
    const rc = obj as ReplicationController;
    const [names, images] = containerCells(rc.spec?.template?.spec?.containers);
    return {
      cells: [
        nameOf(rc), rc.spec?.replicas ?? 1, rc.status?.replicas ?? 0, rc.status?.readyReplicas ?? 0,
        age(rc, now), names, images, formatLabels(rc.spec?.selector),
      ],
    };
  },
};

const daemonsets: TablePrinter = {
  columns: [
    NAME,
    col('Desired', 'Nodes that should run the daemon pod.', { type: 'integer' }),
    col('Current', 'Nodes running at least one daemon pod.', { type: 'integer' }),
    col('Ready', 'Nodes whose daemon pod is ready.', { type: 'integer' }),
    col('Up-to-date', 'Nodes running the current template.', { type: 'integer' }),
    col('Available', 'Nodes whose daemon pod is available.', { type: 'integer' }),
    col('Node Selector', 'Node selector of the pod template.'),
    AGE, CONTAINERS, IMAGES, SELECTOR,
  ],
  row: (obj, now) => {
    const ds = obj as DaemonSet;
    const s = ds.status;
    const [names, images] = containerCells(ds.spec?.template?.spec?.containers);
    return {
      cells: [
        nameOf(ds), s?.desiredNumberScheduled ?? 0, s?.currentNumberScheduled ?? 0, s?.numberReady ?? 0,
        s?.updatedNumberScheduled ?? 0, s?.numberAvailable ?? 0, formatLabels(ds.spec?.template?.spec?.nodeSelector),
        age(ds, now), names, images, selectorString(ds.spec?.selector),
      ],
    };
  },
};

/** External-IP as upstream: spec.externalIPs, load-balancer ingress, the external name, or a placeholder. */
function serviceExternalIP(svc: Service): string {
  const externalIPs = svc.spec?.externalIPs ?? [];
  switch (svc.spec?.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const ingress = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname || '').filter((s) => s !== '');
      const all = [...ingress, ...externalIPs];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return svc.spec?.externalName ?? '';
    default:
      return '<unknown>';
  }
}

const services: TablePrinter = {
  columns: [
    NAME,
    col('Type', 'ClusterIP, NodePort, LoadBalancer or ExternalName.'),
    col('Cluster-IP', 'The virtual IP of the service.'),
    col('External-IP', 'Addresses reachable from outside the cluster.'),
    col('Port(s)', 'Ports, with node ports, and protocols.'),
    AGE,
    col('Selector', 'Label selector of the backing pods.', WIDE),
  ],
  row: (obj, now) => {
    const svc = obj as Service;
    // Upstream reads clusterIPs[0]; clusterIP covers a spec written with the singular field only.
    const clusterIP = svc.spec?.clusterIPs?.[0] || svc.spec?.clusterIP || '<none>';
    const ports = (svc.spec?.ports ?? []).map((p) => {
      const protocol = p.protocol ?? 'TCP';
      return p.nodePort ? `${p.port}:${p.nodePort}/${protocol}` : `${p.port}/${protocol}`;
    }).join(',');
    return {
      cells: [
        nameOf(svc), svc.spec?.type ?? 'ClusterIP', clusterIP, serviceExternalIP(svc), ports || '<none>', age(svc, now),
        formatLabels(svc.spec?.selector),
      ],
    };
  },
};

/** formatEndpoints: up to three ip:port pairs, then "+ N more...". */
function formatEndpoints(ep: Endpoints): string {
  const subsets = ep.subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let count = 0;
  let more = false;
  for (const ss of subsets) {
    const addresses = ss.addresses ?? [];
    const ports = ss.ports ?? [];
    const targets = ports.length === 0 ? [undefined] : ports.map((p) => p.port);
    for (const port of targets) {
      count += addresses.length;
      for (const addr of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(port === undefined ? addr.ip : joinHostPort(addr.ip, port));
      }
    }
  }
  const joined = list.join(',');
  return more ? `${joined} + ${count - max} more...` : joined;
}

const endpoints: TablePrinter = {
  columns: [NAME, col('Endpoints', 'Ready addresses with their ports.'), AGE],
  row: (obj, now) => ({ cells: [nameOf(obj), formatEndpoints(obj as Endpoints), age(obj, now)] }),
};

/** Up to three items joined by commas, then "+ N more..."; `<unset>` when there are none. */
function listWithMore(items: readonly string[], max = 3): string {
  if (items.length === 0) return '<unset>';
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

const endpointslices: TablePrinter = {
  columns: [
    NAME,
    col('AddressType', 'Type of the addresses in the slice.'),
    col('Ports', 'Ports of the slice.'),
    col('Endpoints', 'Addresses of the endpoints in the slice.'),
    AGE,
  ],
  row: (obj, now) => {
    const slice = obj as EndpointSlice;
    const ports = (slice.ports ?? []).map((p) => (p.port !== undefined ? String(p.port) : p.name ? p.name : '*'));
    const addresses = (slice.endpoints ?? []).flatMap((e) => e.addresses ?? []);
    return { cells: [nameOf(obj), slice.addressType ?? '', listWithMore(ports), listWithMore(addresses), age(obj, now)] };
  },
};

const events: TablePrinter = {
  columns: [
    col('Last Seen', 'Time since the event was last seen.'),
    col('Type', 'Normal or Warning.'),
    col('Reason', 'Short machine-readable reason.'),
    col('Object', 'The object the event is about.'),
    col('Subobject', 'The part of the object, e.g. a container.', WIDE),
    col('Source', 'The component (and host) that reported the event.', WIDE),
    col('Message', 'Human-readable description.'),
    col('First Seen', 'Time since the event was first seen.', WIDE),
    col('Count', 'How many times the event occurred.', WIDE),
    col('Name', 'Name of the event object.', { format: 'name', priority: 1 }),
  ],
  row: (obj, now) => {
    const ev = obj as Event & { series?: { count?: number; lastObservedTime?: string } };
    const since = (t: string | null | undefined): string => formatAge(t, now);
    const firstSeen = parseTime(ev.firstTimestamp) !== undefined ? since(ev.firstTimestamp) : since(ev.eventTime);
    let lastSeen = parseTime(ev.lastTimestamp) !== undefined ? since(ev.lastTimestamp) : firstSeen;
    let count = ev.count ?? 0;
    if (ev.series !== undefined) {
      lastSeen = since(ev.series.lastObservedTime);
      count = ev.series.count ?? 0;
    } else if (count === 0) {
      count = 1; // events from the events.k8s.io API are singletons without a count
    }
    const involved = ev.involvedObject ?? {};
    const kind = (involved.kind ?? '').toLowerCase();
    const target = involved.name ? `${kind}/${involved.name}` : kind;
    const component = ev.source?.component || ev.reportingComponent || '';
    const host = ev.source?.host || ev.reportingInstance || '';
    const source = host !== '' ? `${component}, ${host}` : component;
    return {
      cells: [
        lastSeen, ev.type ?? '', ev.reason ?? '', target, involved.fieldPath ?? '', source, (ev.message ?? '').trim(),
        firstSeen, count, nameOf(ev),
      ],
    };
  },
};

function hasTrueCondition(conditions: readonly { type: string; status: string }[] | undefined, type: string): boolean {
  return (conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

const jobs: TablePrinter = {
  columns: [
    NAME,
    col('Status', 'Complete, Failed, Running, Suspended or Terminating.'),
    col('Completions', 'Succeeded pods out of required completions.'),
    col('Duration', 'Time the job ran, or has been running.'),
    AGE, CONTAINERS, IMAGES, SELECTOR,
  ],
  row: (obj, now) => {
    const job = obj as Job;
    const succeeded = job.status?.succeeded ?? 0;
    let completions: string;
    if (job.spec?.completions !== undefined) {
      completions = `${succeeded}/${job.spec.completions}`;
    } else {
      const parallelism = job.spec?.parallelism ?? 0;
      completions = parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
    }
    const started = parseTime(job.status?.startTime);
    const completed = parseTime(job.status?.completionTime);
    let duration = '';
    if (started !== undefined) duration = humanDuration((completed ?? now.getTime()) - started);
    const conditions = job.status?.conditions;
    let status = 'Running';
    if (hasTrueCondition(conditions, 'Complete')) status = 'Complete';
    else if (hasTrueCondition(conditions, 'Failed')) status = 'Failed';
    else if (job.metadata.deletionTimestamp !== undefined) status = 'Terminating';
    else if (hasTrueCondition(conditions, 'Suspended')) status = 'Suspended';
    else if (hasTrueCondition(conditions, 'FailureTarget')) status = 'FailureTarget';
    else if (hasTrueCondition(conditions, 'SuccessCriteriaMet')) status = 'SuccessCriteriaMet';
    const [names, images] = containerCells(job.spec?.template?.spec?.containers);
    return {
      cells: [
        nameOf(job), status, completions, duration, age(job, now), names, images,
        job.spec?.selector ? selectorString(job.spec.selector) : '',
      ],
    };
  },
};

const cronjobs: TablePrinter = {
  columns: [
    NAME,
    col('Schedule', 'The cron schedule.'),
    col('Timezone', 'Time zone of the schedule.'),
    col('Suspend', 'Whether new runs are suspended.', { type: 'boolean' }),
    col('Active', 'Jobs currently running.', { type: 'integer' }),
    col('Last Schedule', 'Time since a job was last scheduled.'),
    AGE, CONTAINERS, IMAGES, SELECTOR,
  ],
  row: (obj, now) => {
    const cj = obj as CronJob;
    const jobSpec = cj.spec?.jobTemplate?.spec;
    const [names, images] = containerCells(jobSpec?.template?.spec?.containers);
    const suspend = cj.spec?.suspend;
    const lastSchedule = parseTime(cj.status?.lastScheduleTime) === undefined ? '<none>' : formatAge(cj.status?.lastScheduleTime, now);
    return {
      cells: [
        nameOf(cj), cj.spec?.schedule ?? '', cj.spec?.timeZone ?? '<none>',
        suspend === undefined ? '<unset>' : suspend ? 'True' : 'False',
        (cj.status?.active ?? []).length, lastSchedule, age(cj, now), names, images,
        jobSpec?.selector ? selectorString(jobSpec.selector) : '',
      ],
    };
  },
};

const namespaces: TablePrinter = {
  columns: [NAME, col('Status', 'Active or Terminating.'), AGE],
  row: (obj, now) => ({ cells: [nameOf(obj), (obj as Namespace).status?.phase ?? '', age(obj, now)] }),
};

const podtemplates: TablePrinter = {
  columns: [
    NAME,
    col('Containers', 'Names of the containers in the template.'),
    col('Images', 'Images of the containers in the template.'),
    col('Pod Labels', 'Labels of the pods made from the template.'),
  ],
  row: (obj) => {
    const t = obj as PodTemplate;
    const [names, images] = containerCells(t.template?.spec?.containers);
    return { cells: [nameOf(t), names, images, formatLabels(t.template?.metadata?.labels)] };
  },
};

const priorityclasses: TablePrinter = {
  columns: [
    NAME,
    col('Value', 'The priority of pods of this class.', { type: 'integer' }),
    col('Global-Default', 'Whether pods without a class get this one.', { type: 'boolean' }),
    AGE,
    col('PreemptionPolicy', 'Whether pods of this class may preempt lower-priority pods.'),
  ],
  row: (obj, now) => {
    const pc = obj as PriorityClass;
    return { cells: [nameOf(pc), pc.value, pc.globalDefault === true, age(pc, now), pc.preemptionPolicy ?? 'PreemptLowerPriority'] };
  },
};

const runtimeclasses: TablePrinter = {
  columns: [NAME, col('Handler', 'The container runtime handler pods of this class run with.'), AGE],
  row: (obj, now) => ({ cells: [nameOf(obj), (obj as RuntimeClass).handler, age(obj, now)] }),
};

/** Up to three rule hosts, `*` when none names one, as upstream's formatHosts. */
function ingressHosts(ing: Ingress): string {
  const rules = ing.spec?.rules ?? [];
  const max = 3;
  const hosts: string[] = [];
  let more = false;
  for (const rule of rules) {
    if (hosts.length === max) more = true;
    if (!more && rule.host) hosts.push(rule.host);
  }
  if (hosts.length === 0) return '*';
  return more ? `${hosts.join(',')} + ${rules.length - max} more...` : hosts.join(',');
}

const ingresses: TablePrinter = {
  columns: [
    NAME,
    col('Class', 'The name of the IngressClass resource that should be used'),
    col('Hosts', 'Hosts that incoming requests are matched against before the ingress rule'),
    col('Address', 'Address is a list containing ingress points for the load-balancer'),
    col('Ports', 'Ports of TLS configurations that open'),
    AGE,
  ],
  row: (obj, now) => {
    const ing = obj as Ingress;
    const address = (ing.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean).join(',');
    return { cells: [nameOf(ing), ing.spec?.ingressClassName ?? '<none>', ingressHosts(ing), address, (ing.spec?.tls ?? []).length > 0 ? '80, 443' : '80', age(ing, now)] };
  },
};

const ingressclasses: TablePrinter = {
  columns: [
    NAME,
    col('Controller', 'Controller that is responsible for handling this class'),
    col('Parameters', 'A reference to a resource with additional parameters'),
    AGE,
  ],
  row: (obj, now) => {
    const ic = obj as IngressClass;
    const p = ic.spec?.parameters;
    const parameters = p ? `${p.kind}${p.apiGroup ? `.${p.apiGroup}` : ''}/${p.name}` : '<none>';
    return { cells: [nameOf(ic), ic.spec?.controller ?? '', parameters, age(ic, now)] };
  },
};

const webhookConfigurations: TablePrinter = {
  columns: [NAME, col('Webhooks', 'The number of webhooks in the configuration.', { type: 'integer' }), AGE],
  row: (obj, now) => ({ cells: [nameOf(obj), ((obj as { webhooks?: unknown[] }).webhooks ?? []).length, age(obj, now)] }),
};

const configmaps: TablePrinter = {
  columns: [NAME, col('Data', 'Number of data and binaryData keys.'), AGE],
  row: (obj, now) => {
    const cm = obj as ConfigMap;
    return { cells: [nameOf(cm), Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length, age(cm, now)] };
  },
};

const secrets: TablePrinter = {
  columns: [NAME, col('Type', 'The secret type.'), col('Data', 'Number of data keys.'), AGE],
  row: (obj, now) => {
    const s = obj as Secret;
    // stringData is write-only and merged into data on write; count the union in case it is still there.
    const keys = new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})]);
    // The API server defaults type to Opaque on create, so an unset type reads as what it will be.
    return { cells: [nameOf(s), s.type ?? 'Opaque', keys.size, age(s, now)] };
  },
};

const serviceaccounts: TablePrinter = {
  columns: [NAME, col('Secrets', 'Number of referenced secrets.'), AGE],
  row: (obj, now) => ({ cells: [nameOf(obj), ((obj as ServiceAccount).secrets ?? []).length, age(obj, now)] }),
};

const leases: TablePrinter = {
  columns: [NAME, col('Holder', 'Identity of the current holder.'), AGE],
  row: (obj, now) => ({ cells: [nameOf(obj), (obj as Lease).spec?.holderIdentity ?? '', age(obj, now)] }),
};

const poddisruptionbudgets: TablePrinter = {
  columns: [
    NAME,
    col('Min Available', 'Pods that must stay available.'),
    col('Max Unavailable', 'Pods that may be unavailable.'),
    col('Allowed Disruptions', 'Evictions allowed right now.', { type: 'integer' }),
    AGE,
  ],
  row: (obj, now) => {
    const pdb = obj as PodDisruptionBudget;
    const show = (v: number | string | undefined): string => (v === undefined ? 'N/A' : String(v));
    return {
      cells: [nameOf(pdb), show(pdb.spec?.minAvailable), show(pdb.spec?.maxUnavailable), pdb.status?.disruptionsAllowed ?? 0, age(pdb, now)],
    };
  },
};

const ACCESS_MODE_SHORT: readonly [string, string][] = [
  ['ReadWriteOnce', 'RWO'], ['ReadOnlyMany', 'ROX'], ['ReadWriteMany', 'RWX'], ['ReadWriteOncePod', 'RWOP'],
];

/** `RWO,ROX` in upstream's fixed order, whatever order the modes were listed in. */
function accessModesString(modes: readonly string[] | undefined): string {
  return ACCESS_MODE_SHORT.filter(([mode]) => modes?.includes(mode)).map(([, short]) => short).join(',');
}

const ACCESS_MODES_COL = col('Access Modes', 'Access modes of the volume.');
const STORAGE_CLASS_COL = col('StorageClass', 'Storage class of the volume.');
const VAC_COL = col('VolumeAttributesClass', 'Volume attributes class (always unset in corral).');
const VOLUME_MODE_COL = col('VolumeMode', 'Filesystem or Block.', WIDE);

const persistentvolumes: TablePrinter = {
  columns: [
    NAME, col('Capacity', 'Size of the volume.'), ACCESS_MODES_COL, col('Reclaim Policy', 'What happens when its claim goes.'),
    col('Status', 'Phase of the volume.'), col('Claim', 'The claim bound to the volume.'), STORAGE_CLASS_COL, VAC_COL,
    col('Reason', 'Why the volume is in its phase.'), AGE, VOLUME_MODE_COL,
  ],
  row: (obj, now) => {
    const pv = obj as PersistentVolume;
    const ref = pv.spec?.claimRef;
    const claim = ref?.name ? `${ref.namespace ?? ''}/${ref.name}` : '';
    return {
      cells: [
        nameOf(pv), pv.spec?.capacity?.['storage'] ?? '', accessModesString(pv.spec?.accessModes), pv.spec?.persistentVolumeReclaimPolicy ?? '',
        pv.status?.phase ?? '', claim, pv.spec?.storageClassName ?? '', '<unset>', pv.status?.reason ?? '', age(pv, now),
        pv.spec?.volumeMode ?? '<unset>',
      ],
    };
  },
};

const persistentvolumeclaims: TablePrinter = {
  columns: [
    NAME, col('Status', 'Phase of the claim.'), col('Volume', 'The volume bound to the claim.'), col('Capacity', 'Size of the bound volume.'),
    ACCESS_MODES_COL, STORAGE_CLASS_COL, VAC_COL, AGE, VOLUME_MODE_COL,
  ],
  row: (obj, now) => {
    const pvc = obj as PersistentVolumeClaim;
    const bound = pvc.status?.phase === 'Bound';
    return {
      cells: [
        nameOf(pvc), pvc.metadata.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? ''), pvc.spec?.volumeName ?? '',
        bound ? (pvc.status?.capacity?.['storage'] ?? '') : '', bound ? accessModesString(pvc.status?.accessModes) : '',
        pvc.spec?.storageClassName ?? '', '<unset>', age(pvc, now), pvc.spec?.volumeMode ?? '<unset>',
      ],
    };
  },
};

const storageclasses: TablePrinter = {
  columns: [
    NAME, col('Provisioner', 'Who creates its volumes.'), col('ReclaimPolicy', 'What happens to a volume when its claim goes.'),
    col('VolumeBindingMode', 'When claims are bound.'), col('AllowVolumeExpansion', 'Whether claims may grow.'), AGE,
  ],
  row: (obj, now) => {
    const sc = obj as StorageClass;
    const isDefault = sc.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true';
    return {
      cells: [
        isDefault ? `${nameOf(sc)} (default)` : nameOf(sc), sc.provisioner ?? '', sc.reclaimPolicy ?? 'Delete',
        sc.volumeBindingMode ?? 'Immediate', sc.allowVolumeExpansion === true, age(sc, now),
      ],
    };
  },
};

const statefulsets: TablePrinter = {
  columns: [NAME, col('Ready', 'Ready pods out of desired.'), AGE, CONTAINERS, IMAGES],
  row: (obj, now) => {
    const sts = obj as StatefulSet;
    const [names, images] = containerCells(sts.spec?.template?.spec?.containers);
    return { cells: [nameOf(sts), `${sts.status?.readyReplicas ?? 0}/${sts.spec?.replicas ?? 1}`, age(sts, now), names, images] };
  },
};

const controllerrevisions: TablePrinter = {
  columns: [NAME, col('Controller', 'The object that owns the revision.'), col('Revision', 'Revision number.', { type: 'integer' }), AGE],
  row: (obj, now) => {
    const cr = obj as ControllerRevision;
    const owner = cr.metadata.ownerReferences?.find((r) => r.controller);
    const group = owner?.apiVersion.includes('/') ? `.${owner.apiVersion.split('/')[0]}` : '';
    return { cells: [nameOf(cr), owner ? `${owner.kind.toLowerCase()}${group}/${owner.name}` : '<none>', cr.revision ?? 0, age(cr, now)] };
  },
};

/** Request and Limit columns of a quota: `name: used/hard`, limits.* in the second, sorted. */
const resourcequotas: TablePrinter = {
  columns: [NAME, AGE, col('Request', 'Request represents a minimum amount of cpu/memory that a container may consume.'), col('Limit', 'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.')],
  row: (obj, now) => {
    const q = obj as ResourceQuota;
    const hard = q.status?.hard ?? {};
    const used = q.status?.used ?? {};
    const cell = (names: string[]): string => names.sort().map((n) => `${n}: ${used[n] ?? '0'}/${hard[n]}`).join(', ');
    const names = Object.keys(hard);
    return { cells: [nameOf(q), age(q, now), cell(names.filter((n) => !n.startsWith('limits.'))), cell(names.filter((n) => n.startsWith('limits.')))] };
  },
};

/** `Role/admin`, `ClusterRole/view`: how kubectl shows a binding's roleRef. */
const bindingRole = (b: RoleBinding | ClusterRoleBinding): string => `${b.roleRef?.kind ?? ''}/${b.roleRef?.name ?? ''}`;

function subjectsOfKind(b: RoleBinding | ClusterRoleBinding, kind: string): string {
  return (b.subjects ?? []).filter((s) => s.kind === kind).map((s) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : s.name)).join(', ');
}

/** RoleBinding and ClusterRoleBinding: Role, Age; -o wide adds Users, Groups, ServiceAccounts. */
const bindings: TablePrinter = {
  columns: [
    NAME, col('Role', 'RoleRef is the reference to the role.'), AGE,
    col('Users', 'Users in the binding.', WIDE),
    col('Groups', 'Groups in the binding.', WIDE),
    col('ServiceAccounts', 'ServiceAccounts in the binding.', WIDE),
  ],
  row: (obj, now) => {
    const b = obj as RoleBinding;
    return { cells: [nameOf(b), bindingRole(b), age(b, now), subjectsOfKind(b, 'User'), subjectsOfKind(b, 'Group'), subjectsOfKind(b, 'ServiceAccount')] };
  },
};

/** What the apiserver's default table convertor prints for kinds without a printer. */
export const DEFAULT_PRINTER: TablePrinter = {
  columns: [NAME, col('Created At', 'Time the object was created.', { type: 'date' })],
  row: (obj) => {
    const created = parseTime(obj.metadata.creationTimestamp);
    // Go formats the zero time as year 1; kept so an unset timestamp looks the same as upstream.
    return { cells: [nameOf(obj), created === undefined ? '0001-01-01T00:00:00Z' : rfc3339(new Date(created))] };
  },
};

/** Printers by `group/plural` ('' for core). */
export const PRINTERS: ReadonlyMap<string, TablePrinter> = new Map([
  ['/pods', pods],
  ['/nodes', nodes],
  ['apps/deployments', deployments],
  ['apps/replicasets', replicasets],
  ['/replicationcontrollers', replicationcontrollers],
  ['apps/daemonsets', daemonsets],
  ['/services', services],
  ['/endpoints', endpoints],
  ['discovery.k8s.io/endpointslices', endpointslices],
  ['/events', events],
  ['batch/jobs', jobs],
  ['batch/cronjobs', cronjobs],
  ['/namespaces', namespaces],
  ['/configmaps', configmaps],
  ['/podtemplates', podtemplates],
  ['scheduling.k8s.io/priorityclasses', priorityclasses],
  ['node.k8s.io/runtimeclasses', runtimeclasses],
  ['networking.k8s.io/ingresses', ingresses],
  ['networking.k8s.io/ingressclasses', ingressclasses],
  ['admissionregistration.k8s.io/validatingwebhookconfigurations', webhookConfigurations],
  ['admissionregistration.k8s.io/mutatingwebhookconfigurations', webhookConfigurations],
  ['/secrets', secrets],
  ['/serviceaccounts', serviceaccounts],
  ['coordination.k8s.io/leases', leases],
  ['policy/poddisruptionbudgets', poddisruptionbudgets],
  ['/persistentvolumes', persistentvolumes],
  ['/persistentvolumeclaims', persistentvolumeclaims],
  ['storage.k8s.io/storageclasses', storageclasses],
  ['apps/statefulsets', statefulsets],
  ['apps/controllerrevisions', controllerrevisions],
  ['/resourcequotas', resourcequotas],
  ['rbac.authorization.k8s.io/rolebindings', bindings],
  ['rbac.authorization.k8s.io/clusterrolebindings', bindings],
]);
