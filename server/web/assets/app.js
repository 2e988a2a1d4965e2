// corral status page. No framework. Everything shown comes from the authenticated Kubernetes API:
// one fetch of /ui/stream (the server follows the API's list+watch for each resource with this
// page's token and multiplexes the events into one stream, so the browser's six-connections-per-
// server limit is never hit), read with a ReadableStream; after a disconnect (server restart) it
// reconnects with back-off and gets the full state again. Each node's CPU and memory over the last
// hour come from /ui/usage (the server's in-memory ring buffers), polled and drawn as small SVG charts.
'use strict';

const TOKEN_KEY = 'corral.token';
const RESOURCES = ['nodes', 'pods', 'deployments', 'daemonsets', 'jobs', 'services', 'events'];
const MAX_BACKOFF_MS = 15000;
/** No line (not even a PING) for this long means the connection is dead. */
const SILENCE_MS = 60000;
const EVENTS_SHOWN = 20;
/** Node conditions that are bad when True, with the words the page uses for them. */
const BAD_CONDITIONS = {
  MemoryPressure: 'memory pressure',
  DiskPressure: 'disk pressure',
  PIDPressure: 'PID pressure',
  NetworkUnavailable: 'network unavailable',
  CgroupMemoryDisabled: 'memory cgroup disabled',
  RuntimeBinariesMissing: 'runtime binaries missing',
  UnderVoltage: 'under-voltage',
  Throttled: 'CPU throttled',
};
const BAD_WAITING = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'InvalidImageName']);

const HOUR_MS = 3600e3;
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
const stores = Object.fromEntries(RESOURCES.map((k) => [k, new Map()]));
let session = null; // { token, abort: AbortController }
/** The last /ui/usage answer: { intervalSeconds, nodes: { name: [[ms, cpu cores, memory bytes], ...] } }. */
let usage = { intervalSeconds: 15, nodes: {} };

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// ---------- API ----------

async function api(method, path, signal) {
  const res = await fetch(path, { method, signal, headers: { authorization: `Bearer ${session.token}`, accept: 'application/json' } });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).message || message; } catch { /* not a Status */ }
    throw new HttpError(res.status, message);
  }
  return res.json();
}

const keyOf = (o) => `${o.metadata.namespace || ''}/${o.metadata.name}`;
const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

function apply(line) {
  const store = stores[line.resource];
  if (!store) return;
  if (line.type === 'SYNC') {
    store.clear();
    for (const o of line.items) store.set(keyOf(o), o);
  } else if (line.type === 'DELETED') store.delete(keyOf(line.object));
  else store.set(keyOf(line.object), line.object);
  scheduleRender();
}

/** Reads the stream until it ends; throws on an ERROR line or a silent connection. */
async function readStream(res, signal) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let timer;
  const silence = () => { clearTimeout(timer); timer = setTimeout(() => reader.cancel().catch(() => {}), SILENCE_MS); };
  signal.addEventListener('abort', () => reader.cancel().catch(() => {}), { once: true });
  try {
    for (;;) {
      silence();
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!text) continue;
        const line = JSON.parse(text);
        if (line.type === 'ERROR') throw new HttpError(line.code, line.message);
        if (line.type !== 'PING') apply(line);
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Keeps the stream open for the whole session, reconnecting with back-off. */
async function follow(signal) {
  let delay = 1000;
  while (!signal.aborted) {
    const started = Date.now();
    try {
      setConn('connecting');
      const res = await fetch('/ui/stream', { signal, headers: { authorization: `Bearer ${session.token}` } });
      if (!res.ok) {
        let message = `${res.status}`;
        try { message = (await res.json()).message || message; } catch { /* not a Status */ }
        throw new HttpError(res.status, message);
      }
      setConn('live');
      await readStream(res, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (err.status === 401) { signOut('The token was rejected (revoked or expired). Sign in again.'); return; }
    }
    if (signal.aborted) return;
    if (Date.now() - started > 30000) delay = 1000; // it was up for a while: retry soon
    setConn('retrying');
    await sleep(delay + Math.random() * 300, signal);
    delay = Math.min(delay * 2, MAX_BACKOFF_MS);
  }
}

/** Polls each node's usage history while signed in; a token that may not read node metrics gets no charts. */
async function pollUsage(signal) {
  let waitSeconds = 15;
  while (!signal.aborted) {
    // A phone with the page in the background spends no data on charts nobody sees.
    if (document.hidden) { await sleep(waitSeconds * 1000, signal); continue; }
    try {
      const res = await fetch('/ui/usage', { signal, headers: { authorization: `Bearer ${session.token}` } });
      if (res.ok) {
        usage = await res.json();
        waitSeconds = Math.min(Math.max(usage.intervalSeconds || 15, 1), 30);
        scheduleRender();
      } else if (res.status === 403) {
        usage = { intervalSeconds: 0, nodes: {} };
        waitSeconds = 300;
      }
    } catch { /* the stream's reconnects say when the server is away */ }
    await sleep(waitSeconds * 1000, signal);
  }
}

function setConn(state) {
  const el = $('conn');
  el.dataset.state = state;
  el.textContent = state === 'live' ? 'live' : state === 'retrying' ? 'reconnecting…' : 'connecting…';
}

// ---------- session ----------

async function signIn(token) {
  session = { token, abort: new AbortController() };
  await api('GET', '/api/v1/namespaces?limit=1', session.abort.signal);
  sessionStorage.setItem(TOKEN_KEY, token);
  $('login-view').hidden = true;
  $('cluster-view').hidden = false;
  $('conn').hidden = false;
  $('logout').hidden = false;
  follow(session.abort.signal);
  pollUsage(session.abort.signal);
}

function signOut(message) {
  if (session) session.abort.abort();
  session = null;
  sessionStorage.removeItem(TOKEN_KEY);
  for (const s of Object.values(stores)) s.clear();
  usage = { intervalSeconds: 15, nodes: {} };
  $('cluster-view').hidden = true;
  $('conn').hidden = true;
  $('logout').hidden = true;
  $('summary').textContent = '';
  $('login-view').hidden = false;
  $('login-error').textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

// ---------- helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v; // CSSOM, allowed by the page's CSP (attributes are not)
    else if (k.startsWith('data-')) el.dataset[k.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const SUFFIX = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
/** Kubernetes quantity ("500m", "128Mi", "1.5", "1e3") → number. */
function qty(s) {
  if (s === undefined || s === null) return 0;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(String(s).trim());
  return m && m[2] in SUFFIX ? Number(m[1]) * SUFFIX[m[2]] : 0;
}
const fmtCpu = (cores) => (cores < 1 && cores > 0 ? `${Math.round(cores * 1000)}m` : `${+cores.toFixed(2)}`);
function fmtBytes(b) {
  const units = ['B', 'Ki', 'Mi', 'Gi', 'Ti'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${b >= 10 || i === 0 ? Math.round(b) : b.toFixed(1)}${units[i]}`;
}
/** kubectl-style age: 42s, 5m, 3h, 12d. */
function age(ts) {
  if (!ts) return '';
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
const cond = (o, type) => ((o.status && o.status.conditions) || []).find((c) => c.type === type);
const isTerminated = (p) => p.status && (p.status.phase === 'Succeeded' || p.status.phase === 'Failed');

function podRequests(p) {
  let cpu = 0, mem = 0;
  for (const c of p.spec.containers || []) {
    const r = (c.resources && c.resources.requests) || {};
    cpu += qty(r.cpu); mem += qty(r.memory);
  }
  for (const c of p.spec.initContainers || []) {
    const r = (c.resources && c.resources.requests) || {};
    cpu = Math.max(cpu, qty(r.cpu)); mem = Math.max(mem, qty(r.memory));
  }
  return { cpu, mem };
}

/** What kubectl's STATUS column would say, and how bad it is. */
function podState(p) {
  if (p.metadata.deletionTimestamp) return { text: 'Terminating', level: 'muted' };
  const st = p.status || {};
  for (const cs of st.containerStatuses || []) {
    const w = cs.state && cs.state.waiting;
    if (w && w.reason) return { text: w.reason, level: BAD_WAITING.has(w.reason) ? 'bad' : 'warn', message: w.message };
  }
  for (const cs of st.containerStatuses || []) {
    const t = cs.state && cs.state.terminated;
    if (t && t.reason && st.phase !== 'Succeeded') return { text: t.reason, level: t.exitCode ? 'bad' : 'warn', message: t.message };
  }
  const sched = cond(p, 'PodScheduled');
  if (sched && sched.status === 'False') return { text: sched.reason || 'Pending', level: 'warn', message: sched.message };
  const phase = st.phase || 'Pending';
  return { text: phase, level: phase === 'Running' ? (cond(p, 'Ready') && cond(p, 'Ready').status === 'True' ? 'ok' : 'warn') : phase === 'Succeeded' ? 'muted' : phase === 'Failed' ? 'bad' : 'warn', message: st.message };
}

function nodeReady(n) {
  const c = cond(n, 'Ready');
  return { ok: !!c && c.status === 'True', text: !c ? 'Unknown' : c.status === 'True' ? 'Ready' : c.status === 'Unknown' ? 'Unknown' : 'NotReady', message: c && c.message };
}

function temperature(n) {
  const v = (n.metadata.annotations || {})['corral.dev/temperature'] || (n.metadata.labels || {})['corral.dev/temperature'];
  if (!v) return undefined;
  const c = parseFloat(v);
  return Number.isFinite(c) ? c : undefined;
}

// ---------- rendering ----------

let renderTimer;
function scheduleRender() {
  if (renderTimer === undefined) renderTimer = setTimeout(() => { renderTimer = undefined; render(); }, 60);
}

function render() {
  if (!session) return;
  const nodes = [...stores.nodes.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const pods = [...stores.pods.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  const warnings = [];
  for (const n of nodes) {
    const r = nodeReady(n);
    if (!r.ok) warnings.push({ bad: true, text: `Node ${n.metadata.name} is ${r.text}${r.message ? `: ${r.message}` : ''}` });
    for (const [type, words] of Object.entries(BAD_CONDITIONS)) {
      const c = cond(n, type);
      if (c && c.status === 'True') warnings.push({ bad: type === 'CgroupMemoryDisabled' || type === 'UnderVoltage', text: `Node ${n.metadata.name}: ${words}${c.message ? ` — ${c.message}` : ''}` });
    }
  }
  let notRunning = 0;
  for (const p of pods) {
    const s = podState(p);
    if (s.text !== 'Running' && s.text !== 'Succeeded') notRunning++;
    if (s.level === 'bad' || (s.text === 'Unschedulable')) warnings.push({ bad: s.level === 'bad', text: `Pod ${keyOf(p)}: ${s.text}${s.message ? ` — ${s.message}` : ''}` });
  }
  const ready = nodes.filter((n) => nodeReady(n).ok).length;
  $('summary').textContent = `${ready}/${nodes.length} nodes ready · ${pods.length} pods${notRunning ? ` (${notRunning} not running)` : ''}` +
    (warnings.length ? ` · ${warnings.length} warning${warnings.length > 1 ? 's' : ''}` : '');

  const w = $('warnings');
  w.hidden = warnings.length === 0;
  w.replaceChildren(h('h2', null, 'Warnings'), h('ul', null, warnings.map((x) => h('li', { class: x.bad ? 'bad' : '' }, x.text))));

  const byNode = new Map();
  for (const p of pods) {
    const k = p.spec.nodeName || '';
    if (!byNode.has(k)) byNode.set(k, []);
    byNode.get(k).push(p);
  }
  const cards = nodes.map((n) => nodeCard(n, byNode.get(n.metadata.name) || []));
  const unscheduled = byNode.get('') || [];
  if (unscheduled.length) cards.push(h('article', { class: 'node', 'data-name': '' }, h('header', null, h('h3', null, 'Not scheduled')), podList(unscheduled)));
  $('nodes').replaceChildren(...(cards.length ? cards : [h('p', { class: 'empty' }, 'No nodes have registered yet.')]));
  $('workloads').replaceChildren(workloadTable());
  $('services').replaceChildren(serviceTable());
  $('events').replaceChildren(eventTable());
}

function usageRow(label, used, total, fmt) {
  const pct = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return [
    h('span', null, label),
    h('div', { class: `bar${pct >= 100 ? ' full' : pct >= 85 ? ' high' : ''}`, title: `${pct}%` }, h('span', { style: `width:${pct}%` })),
    h('span', { class: 'num' }, `${fmt(used)} / ${fmt(total)}`),
  ];
}

function nodeCard(n, pods) {
  const r = nodeReady(n);
  const labels = n.metadata.labels || {};
  const st = n.status || {};
  const alloc = st.allocatable || st.capacity || {};
  const active = pods.filter((p) => !isTerminated(p));
  const req = active.reduce((a, p) => { const r2 = podRequests(p); return { cpu: a.cpu + r2.cpu, mem: a.mem + r2.mem }; }, { cpu: 0, mem: 0 });
  const ip = ((st.addresses || []).find((a) => a.type === 'InternalIP') || {}).address;
  const arch = labels['kubernetes.io/arch'] || (st.nodeInfo && st.nodeInfo.architecture);
  const temp = temperature(n);
  const chips = [];
  if (n.spec && n.spec.unschedulable) chips.push(h('span', { class: 'badge warn' }, 'SchedulingDisabled'));
  for (const [type, words] of Object.entries(BAD_CONDITIONS)) {
    const c = cond(n, type);
    if (c && c.status === 'True') chips.push(h('span', { class: 'badge bad', title: c.message || '' }, words));
  }
  if (temp !== undefined) chips.push(h('span', { class: `badge ${temp >= 80 ? 'bad' : temp >= 70 ? 'warn' : 'muted'}` }, `${temp.toFixed(1)} °C`));
  return h('article', { class: `node${r.ok ? '' : ' notready'}`, 'data-name': n.metadata.name },
    h('header', null, h('h3', null, n.metadata.name), h('span', { class: `badge ${r.ok ? '' : 'bad'}`, title: r.message || '' }, r.text)),
    h('p', { class: 'meta' }, [arch, labels['corral.dev/board'], ip, `age ${age(n.metadata.creationTimestamp)}`].filter(Boolean).join(' · ')),
    chips.length ? h('div', { class: 'chips' }, chips) : null,
    h('div', { class: 'usage' },
      usageRow('CPU', req.cpu, qty(alloc.cpu), fmtCpu),
      usageRow('Memory', req.mem, qty(alloc.memory), fmtBytes),
      usageRow('Pods', active.length, qty(alloc.pods), String)),
    usageCharts(n),
    podList(pods));
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** CPU and memory in use over the last hour, against the node's capacity; nothing until there are readings. */
function usageCharts(n) {
  const points = (usage.nodes[n.metadata.name] || []).filter((p) => p[0] >= Date.now() - HOUR_MS);
  if (points.length === 0) return null;
  const cap = (n.status && n.status.capacity) || {};
  return h('div', { class: 'charts' },
    chart('cpu', 'CPU in use', points, 1, qty(cap.cpu), fmtCpu),
    chart('memory', 'Memory in use', points, 2, qty(cap.memory), fmtBytes));
}

function chart(kind, label, points, index, capacity, fmt) {
  const W = 300, H = 60, start = Date.now() - HOUR_MS;
  const values = points.map((p) => p[index]);
  const top = Math.max(capacity, ...values) || 1;
  const xy = points.map((p) => [((p[0] - start) / HOUR_MS) * W, H - (p[index] / top) * H].map((v) => v.toFixed(1)));
  // One reading is a dot's worth of line; two or more make the curve.
  if (xy.length === 1) xy.unshift([Math.max(0, Number(xy[0][0]) - 2).toFixed(1), xy[0][1]]);
  const line = xy.map(([x, y]) => `${x},${y}`).join(' ');
  const area = `M${xy[0][0]},${H} L${line.replace(/ /g, ' L')} L${xy[xy.length - 1][0]},${H} Z`;
  const now = values[values.length - 1];
  const peak = Math.max(...values);
  const of = capacity > 0 ? ` of ${fmt(capacity)}` : '';
  return h('figure', { class: 'chart', 'data-kind': kind, 'data-points': String(points.length) },
    h('figcaption', null, h('span', null, label), h('span', { class: 'num' }, `${fmt(now)}${of}`)),
    svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `${label} over the last hour: ${fmt(now)} now, peak ${fmt(peak)}${of}` },
      svg('path', { class: 'area', d: area }), svg('polyline', { class: 'line', points: line })),
    h('div', { class: 'axis' }, h('span', null, '1 h ago'), h('span', null, `peak ${fmt(peak)}`), h('span', null, 'now')));
}

function podList(pods) {
  if (!pods.length) return h('p', { class: 'empty' }, 'No pods.');
  return h('ul', { class: 'pods' }, pods.map((p) => {
    const s = podState(p);
    const cs = (p.status && p.status.containerStatuses) || [];
    const readyCount = cs.filter((c) => c.ready).length;
    const restarts = cs.reduce((a, c) => a + (c.restartCount || 0), 0);
    return h('li', { class: 'pod', 'data-name': p.metadata.name, 'data-namespace': p.metadata.namespace },
      h('span', { class: 'name' }, h('span', { class: 'ns' }, `${p.metadata.namespace}/`), p.metadata.name),
      h('span', { class: `badge ${s.level === 'ok' ? '' : s.level}`, title: s.message || '' }, s.text),
      h('span', { class: 'num', title: `ready ${readyCount}/${(p.spec.containers || []).length}, ${restarts} restarts` }, `${readyCount}/${(p.spec.containers || []).length} · ↻${restarts}`),
      h('button', { type: 'button', class: 'small', 'data-action': 'delete-pod', 'data-namespace': p.metadata.namespace, 'data-name': p.metadata.name, title: 'Delete this pod', 'aria-label': `Delete pod ${p.metadata.name}` }, '✕'));
  }));
}

function table(headers, rows) {
  if (!rows.length) return h('p', { class: 'empty', style: 'padding:.5rem .7rem;margin:0' }, 'None.');
  return h('table', null,
    h('thead', null, h('tr', null, headers.map((x) => h('th', { class: x.narrow === false ? 'hide-narrow' : '' }, x.label || x)))),
    h('tbody', null, rows));
}

function workloadTable() {
  const rows = [];
  const add = (kind, o, ready, desired, extra) => rows.push(h('tr', { class: ready < desired ? 'warning' : '', 'data-name': o.metadata.name },
    h('td', null, kind), h('td', null, `${o.metadata.namespace}/${o.metadata.name}`),
    h('td', { class: 'nowrap' }, `${ready}/${desired}`, extra ? ` ${extra}` : ''), h('td', { class: 'hide-narrow' }, age(o.metadata.creationTimestamp))));
  for (const d of stores.deployments.values()) add('Deployment', d, (d.status && d.status.readyReplicas) || 0, d.spec.replicas === undefined ? 1 : d.spec.replicas);
  for (const d of stores.daemonsets.values()) add('DaemonSet', d, (d.status && d.status.numberReady) || 0, (d.status && d.status.desiredNumberScheduled) || 0);
  for (const j of stores.jobs.values()) {
    const failed = cond(j, 'Failed');
    const done = cond(j, 'Complete');
    const extra = failed && failed.status === 'True' ? '(failed)' : done && done.status === 'True' ? '(complete)' : '';
    add('Job', j, (j.status && j.status.succeeded) || 0, j.spec.completions === undefined ? 1 : j.spec.completions, extra);
  }
  return table(['Kind', 'Name', 'Ready', { label: 'Age', narrow: false }], rows);
}

function serviceTable() {
  const svcs = [...stores.services.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  return table(['Name', 'Type', 'Cluster IP', 'Ports'], svcs.map((s) => h('tr', { 'data-name': s.metadata.name },
    h('td', null, `${s.metadata.namespace}/${s.metadata.name}`),
    h('td', null, s.spec.type || 'ClusterIP'),
    h('td', { class: 'nowrap' }, s.spec.clusterIP || ''),
    h('td', null, (s.spec.ports || []).map((p, i) => [i ? ', ' : '', `${p.port}/${p.protocol || 'TCP'}`,
      p.nodePort ? [' → ', h('a', { href: `http://${location.hostname}:${p.nodePort}/`, target: '_blank', rel: 'noopener' }, `:${p.nodePort}`)] : '']).flat(2)))));
}

function eventTable() {
  const when = (e) => Date.parse(e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp || 0) || 0;
  const events = [...stores.events.values()].sort((a, b) => when(b) - when(a)).slice(0, EVENTS_SHOWN);
  return table(['Age', { label: 'Type', narrow: false }, 'Reason', 'Object', 'Message'], events.map((e) => h('tr', { class: e.type === 'Warning' ? 'warning' : '' },
    h('td', { class: 'nowrap' }, age(new Date(when(e)).toISOString())),
    h('td', { class: 'hide-narrow' }, e.type || 'Normal'),
    h('td', null, e.reason || ''),
    h('td', null, `${(e.involvedObject && e.involvedObject.kind || '').toLowerCase()}/${e.involvedObject && e.involvedObject.name || ''}`),
    h('td', { class: 'msg' }, e.message || '', e.count > 1 ? ` (×${e.count})` : ''))));
}

function showNotice(text) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = !text;
}

// ---------- wiring ----------

document.addEventListener('click', async (ev) => {
  const btn = ev.target.closest('button[data-action="delete-pod"]');
  if (!btn || !session) return;
  const { namespace, name } = btn.dataset;
  if (!confirm(`Delete pod ${namespace}/${name}?`)) return;
  try {
    await api('DELETE', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, session.abort.signal);
    showNotice('');
  } catch (err) {
    showNotice(err.status === 403 ? `Not allowed: ${err.message}` : `Delete failed: ${err.message}`);
  }
});

document.addEventListener('DOMContentLoaded', () => {
  $('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('login-error').textContent = '';
    try {
      await signIn($('token').value.trim());
    } catch (err) {
      session = null;
      $('login-error').textContent = err.status === 401 ? 'That token was not accepted.' : `Cannot reach the API: ${err.message}`;
    }
  });
  $('logout').addEventListener('click', () => signOut(''));
  setInterval(() => { if (session) render(); }, 30000); // ages move on even when nothing changes
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved).catch((err) => signOut(err.status === 401 ? 'The saved token was not accepted.' : `Cannot reach the API: ${err.message}`));
  else signOut('');
});
