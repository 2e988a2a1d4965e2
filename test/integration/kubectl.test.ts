/**
 * The control plane driven by the real kubectl v1.32 over HTTPS with the generated CA and admin
 * token, against a real `corral server` process and SQLite file (issue: Control plane API).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess, kubectl, kubectlSpawn, type KubectlResult } from '../support/server-process.js';

const it = suite<{ server: ServerProcess }>('kubectl');

function ok(r: KubectlResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

const MANIFEST = (image: string): string => `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
  namespace: shop
  labels: {app: web, tier: front}
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {app: web, tier: back}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
`;

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

it('apply -f of a multi-document manifest: created, then configured, then unchanged', async ({ server }) => {
  const first = ok(await kubectl(server, ['apply', '-f', '-'], { input: MANIFEST('nginx:1.27') }), 'first apply');
  assert.match(first, 'namespace/shop created');
  assert.match(first, 'configmap/shop-config created');
  assert.match(first, 'deployment.apps/web created');
  assert.match(first, 'service/web created');

  const second = ok(await kubectl(server, ['apply', '-f', '-'], { input: MANIFEST('nginx:1.28') }), 'second apply');
  assert.match(second, 'deployment.apps/web configured');
  assert.match(second, 'namespace/shop unchanged');
  assert.match(second, 'configmap/shop-config unchanged');
  assert.match(second, 'service/web unchanged');
  const image = ok(await kubectl(server, ['get', 'deploy', 'web', '-n', 'shop', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'get image');
  assert.is(image, 'nginx:1.28');
  const generation = ok(await kubectl(server, ['get', 'deploy', 'web', '-n', 'shop', '-o', 'jsonpath={.metadata.generation}']), 'get generation');
  assert.is(generation, '2', 'a spec change bumps generation');

  const third = ok(await kubectl(server, ['apply', '-f', '-'], { input: MANIFEST('nginx:1.28') }), 'third apply');
  for (const line of third.trim().split('\n')) assert.match(line, / unchanged$/);
});

it('get prints upstream Table columns, -o wide, -A, --show-labels, -L and selectors', async ({ server }) => {
  const deploy = ok(await kubectl(server, ['get', 'deployments', '-n', 'shop']), 'get deploy');
  assert.match(deploy, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/m);
  assert.match(deploy, /^web\s+0\/2\s+0\s+0\s+\d+s/m);
  const wide = ok(await kubectl(server, ['get', 'deploy', '-n', 'shop', '-o', 'wide']), 'get -o wide');
  assert.match(wide, /CONTAINERS\s+IMAGES\s+SELECTOR/);
  assert.match(wide, /web\s+nginx:1\.28\s+app=web/);
  const all = ok(await kubectl(server, ['get', 'configmaps', '-A']), 'get -A');
  assert.match(all, /^NAMESPACE\s+NAME\s+DATA\s+AGE/m);
  assert.match(all, /^shop\s+shop-config\s+1\s+/m);
  const labels = ok(await kubectl(server, ['get', 'cm', '-n', 'shop', '--show-labels']), '--show-labels');
  assert.match(labels, /shop-config\s+1\s+\S+\s+app=web,tier=front/);
  const column = ok(await kubectl(server, ['get', 'cm', '-n', 'shop', '-L', 'tier']), '-L');
  assert.match(column, /TIER/);
  assert.match(column, /shop-config\s+1\s+\S+\s+front/);
  const eq = ok(await kubectl(server, ['get', 'cm,svc,deploy', '-n', 'shop', '-l', 'app=web,tier!=back', '-o', 'name']), '-l equality');
  assert.equal(eq.trim().split('\n').sort(), ['configmap/shop-config', 'deployment.apps/web']);
  const set = ok(await kubectl(server, ['get', 'cm,svc,deploy', '-n', 'shop', '-l', 'tier in (back)', '-o', 'name']), '-l set-based');
  assert.equal(set.trim(), 'service/web');
  const notin = ok(await kubectl(server, ['get', 'svc,deploy', '-n', 'shop', '-l', 'tier notin (back),app', '-o', 'name']), '-l notin');
  assert.equal(notin.trim(), 'deployment.apps/web');
  const yaml = ok(await kubectl(server, ['get', 'cm', 'shop-config', '-n', 'shop', '-o', 'yaml']), '-o yaml');
  assert.match(yaml, /greeting: hello/);
  assert.match(yaml, /resourceVersion: "\d+"/);
  assert.match(yaml, /uid: [0-9a-f-]{36}/);
  const jp = ok(await kubectl(server, ['get', 'ns', '-o', 'jsonpath={.items[*].metadata.name}']), '-o jsonpath');
  for (const ns of ['default', 'kube-system', 'kube-node-lease', 'shop']) assert.ok(jp.split(' ').includes(ns), `namespace ${ns} listed`);
});

it('get -w sees ADDED, MODIFIED and DELETED while another client writes', async ({ server }) => {
  const watcher = kubectlSpawn(server, ['get', 'configmaps', '-n', 'shop', '-w', '--output-watch-events']);
  let out = '';
  watcher.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const waitFor = async (re: RegExp): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!re.test(out)) {
      if (Date.now() > deadline) throw new Error(`watch output never matched ${re}: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await waitFor(/shop-config\s+1\s+/); // the initial list, as Table rows
    await server.client.create('ConfigMap', 'shop', { metadata: { name: 'watched' }, data: { a: '1' } });
    await waitFor(/ADDED\s+watched\s+1\s+/);
    await server.client.patch('ConfigMap', 'shop', 'watched', { data: { a: '2' } });
    await waitFor(/MODIFIED\s+watched\s+1\s+/);
    await server.client.delete('ConfigMap', 'shop', 'watched');
    await waitFor(/DELETED\s+watched\s+1\s+/);
    assert.is(watcher.exitCode, null, 'the watch stays open');
  } finally {
    watcher.kill();
  }
});

it('create (protobuf bodies), scale, label, annotate, patch, describe and delete', async ({ server }) => {
  assert.match(ok(await kubectl(server, ['create', 'namespace', 'tools']), 'create ns'), 'namespace/tools created');
  assert.match(ok(await kubectl(server, ['create', 'deployment', 'hello', '-n', 'tools', '--image=nginx', '--replicas=2', '--port=80']), 'create deploy'), 'deployment.apps/hello created');
  assert.match(ok(await kubectl(server, ['create', 'configmap', 'settings', '-n', 'tools', '--from-literal=mode=fast', '--from-literal=level=3']), 'create cm'), 'configmap/settings created');
  assert.match(ok(await kubectl(server, ['create', 'secret', 'generic', 'creds', '-n', 'tools', '--from-literal=password=s3cret']), 'create secret'), 'secret/creds created');
  const pw = ok(await kubectl(server, ['get', 'secret', 'creds', '-n', 'tools', '-o', 'jsonpath={.data.password}']), 'get secret');
  assert.is(Buffer.from(pw, 'base64').toString(), 's3cret');
  const port = ok(await kubectl(server, ['get', 'deploy', 'hello', '-n', 'tools', '-o', 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.selector.matchLabels.app}']), 'get deploy');
  assert.is(port, '2 80 hello');

  assert.match(ok(await kubectl(server, ['scale', 'deployment', 'hello', '-n', 'tools', '--replicas=5']), 'scale'), 'deployment.apps/hello scaled');
  assert.is(ok(await kubectl(server, ['get', 'deploy', 'hello', '-n', 'tools', '-o', 'jsonpath={.spec.replicas}']), 'get replicas'), '5');
  // --current-replicas makes kubectl GET and PUT the Scale subresource (no Content-Type on the PUT).
  assert.match(ok(await kubectl(server, ['scale', 'deployment', 'hello', '-n', 'tools', '--current-replicas=5', '--replicas=3']), 'scale PUT'), 'scaled');
  const wrongCurrent = await kubectl(server, ['scale', 'deployment', 'hello', '-n', 'tools', '--current-replicas=9', '--replicas=1']);
  assert.is.not(wrongCurrent.code, 0, 'a wrong --current-replicas precondition fails');

  assert.match(ok(await kubectl(server, ['label', 'cm', 'settings', '-n', 'tools', 'team=edge']), 'label'), 'configmap/settings labeled');
  assert.match(ok(await kubectl(server, ['annotate', 'cm', 'settings', '-n', 'tools', 'owner=ops']), 'annotate'), 'configmap/settings annotated');
  assert.is(ok(await kubectl(server, ['get', 'cm', 'settings', '-n', 'tools', '-o', 'jsonpath={.metadata.labels.team}/{.metadata.annotations.owner}']), 'read back'), 'edge/ops');
  assert.match(ok(await kubectl(server, ['label', 'cm', 'settings', '-n', 'tools', 'team-']), 'unlabel'), 'configmap/settings unlabeled');

  // Strategic merge: containers merge by name, so the image changes and the port stays.
  ok(await kubectl(server, ['patch', 'deploy', 'hello', '-n', 'tools', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}']), 'strategic patch');
  assert.is(ok(await kubectl(server, ['get', 'deploy', 'hello', '-n', 'tools', '-o', 'jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}']), 'after SMP'), 'nginx:1.27 80');
  ok(await kubectl(server, ['patch', 'cm', 'settings', '-n', 'tools', '--type=merge', '-p', '{"data":{"mode":null,"extra":"x"}}']), 'merge patch');
  assert.is(ok(await kubectl(server, ['get', 'cm', 'settings', '-n', 'tools', '-o', 'jsonpath={.data}']), 'after merge'), '{"extra":"x","level":"3"}');
  ok(await kubectl(server, ['patch', 'cm', 'settings', '-n', 'tools', '--type=json', '-p', '[{"op":"replace","path":"/data/level","value":"4"},{"op":"add","path":"/data/new","value":"y"}]']), 'json patch');
  assert.is(ok(await kubectl(server, ['get', 'cm', 'settings', '-n', 'tools', '-o', 'jsonpath={.data.level}{.data.new}']), 'after json'), '4y');
  const failedTest = await kubectl(server, ['patch', 'cm', 'settings', '-n', 'tools', '--type=json', '-p', '[{"op":"test","path":"/data/level","value":"nope"}]']);
  assert.is.not(failedTest.code, 0);

  const described = ok(await kubectl(server, ['describe', 'deployment', 'hello', '-n', 'tools']), 'describe');
  assert.match(described, /Name:\s+hello/);
  assert.match(described, /Namespace:\s+tools/);
  assert.match(described, /Image:\s+nginx:1\.27/);
  const describedNs = ok(await kubectl(server, ['describe', 'namespace', 'tools']), 'describe ns');
  assert.match(describedNs, /Status:\s+Active/);

  assert.match(ok(await kubectl(server, ['delete', 'cm', 'settings', '-n', 'tools']), 'delete'), 'configmap "settings" deleted');
  const gone = await kubectl(server, ['get', 'cm', 'settings', '-n', 'tools']);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, 'Error from server (NotFound): configmaps "settings" not found');
});

it('create service, job and cronjob (protobuf bodies) store what kubectl sent', async ({ server }) => {
  assert.match(ok(await kubectl(server, ['create', 'service', 'clusterip', 'api', '-n', 'tools', '--tcp=8080:80']), 'create svc'), 'service/api created');
  assert.match(ok(await kubectl(server, ['create', 'service', 'nodeport', 'edge', '-n', 'tools', '--tcp=80:8080', '--node-port=30222']), 'create nodeport'), 'service/edge created');
  assert.is(ok(await kubectl(server, ['get', 'svc', 'edge', '-n', 'tools', '-o', 'jsonpath={.spec.type} {.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.ports[0].nodePort}']), 'get nodeport'), 'NodePort 80 8080 30222');
  assert.is(ok(await kubectl(server, ['get', 'svc', 'api', '-n', 'tools', '-o', 'jsonpath={.spec.ports[0].port}/{.spec.ports[0].targetPort} {.spec.selector.app}']), 'get svc'), '8080/80 api');
  assert.match(ok(await kubectl(server, ['create', 'job', 'once', '-n', 'tools', '--image=busybox', '--', 'echo', 'hi']), 'create job'), 'job.batch/once created');
  assert.is(ok(await kubectl(server, ['get', 'job', 'once', '-n', 'tools', '-o', 'jsonpath={.spec.template.spec.containers[0].command} {.spec.template.spec.restartPolicy}']), 'get job'), '["echo","hi"] Never');
  assert.match(ok(await kubectl(server, ['create', 'cronjob', 'tick', '-n', 'tools', '--image=busybox', '--schedule=*/5 * * * *', '--', 'date']), 'create cronjob'), 'cronjob.batch/tick created');
  assert.is(ok(await kubectl(server, ['get', 'cronjob', 'tick', '-n', 'tools', '-o', 'jsonpath={.spec.schedule} {.spec.jobTemplate.spec.template.spec.containers[0].command}']), 'get cronjob'), '*/5 * * * * ["date"]');
  const listed = ok(await kubectl(server, ['get', 'cronjobs', '-n', 'tools']), 'get cronjobs');
  assert.match(listed, /^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE/m);
});

it('errors print kubectl\'s usual messages', async ({ server }) => {
  const missing = await kubectl(server, ['get', 'pod', 'x']);
  assert.match(missing.stderr, 'Error from server (NotFound): pods "x" not found');
  const missingNs = await kubectl(server, ['create', 'configmap', 'c', '-n', 'nowhere']);
  assert.match(missingNs.stderr, 'namespaces "nowhere" not found');
  const bad = await kubectl(server, ['apply', '-f', '-'], { input: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n' });
  assert.match(bad.stderr, 'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain');
  const dup = await kubectl(server, ['create', 'namespace', 'tools']);
  assert.match(dup.stderr, 'Error from server (AlreadyExists): namespaces "tools" already exists');
  const deployDup = await kubectl(server, ['create', 'deployment', 'hello', '-n', 'tools', '--image=nginx']);
  assert.match(deployDup.stderr, 'deployments.apps "hello" already exists');

  // A replace carrying a stale resourceVersion is a 409 Conflict.
  const cm = await server.client.create('ConfigMap', 'tools', { metadata: { name: 'versioned' }, data: { v: '1' } });
  await server.client.patch('ConfigMap', 'tools', 'versioned', { data: { v: '2' } });
  const stale = JSON.stringify({ ...cm, apiVersion: 'v1', kind: 'ConfigMap', data: { v: '3' } });
  const conflict = await kubectl(server, ['replace', '-f', '-'], { input: stale });
  assert.match(conflict.stderr, 'Error from server (Conflict)');
  assert.match(conflict.stderr, 'the object has been modified; please apply your changes to the latest version and try again');

  const noToken = await kubectl(server, ['get', 'pods', '--token', 'bad.token']);
  assert.match(noToken.stderr, 'error: You must be logged in to the server (Unauthorized)');
});

it('restart on the same data dir keeps everything and resourceVersions keep increasing', async ({ server }) => {
  const before = await server.client.get('ConfigMap', 'shop', 'shop-config');
  const listBefore = await server.client.list('Namespace');
  await server.restart();
  const after = await server.client.get('ConfigMap', 'shop', 'shop-config');
  assert.is(after.metadata.uid, before.metadata.uid);
  assert.is(after.metadata.resourceVersion, before.metadata.resourceVersion);
  assert.equal((await server.client.list('Namespace')).items.map((n) => n.metadata.name), listBefore.items.map((n) => n.metadata.name));
  const written = await server.client.patch('ConfigMap', 'shop', 'shop-config', { data: { greeting: 'again' } });
  assert.ok(Number(written.metadata.resourceVersion) > Number(listBefore.metadata.resourceVersion), 'revisions continue after restart');
  const image = ok(await kubectl(server, ['get', 'deploy', 'web', '-n', 'shop', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'kubectl after restart');
  assert.is(image, 'nginx:1.28');
});

it.run();
