/**
 * A small admission webhook served over HTTPS, run as its own process by tests (and usable as a pod's
 * command): `node webhook-server.js <port> <cert.pem> <key.pem> [host]` (host: 127.0.0.1); prints `listening <port>` once ready.
 *
 *   POST /validate  denies a ConfigMap that has a `forbidden` data key (403 with a message)
 *   POST /mutate    adds the label `webhook.corral.dev/mutated: "yes"` with a JSON patch
 *   POST /slow      allows, but only after 3 s (for timeoutSeconds)
 * Anything else is allowed unchanged. Every request's operation and object name are logged to stdout.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AdmissionResponse, AdmissionReview } from '../../api/admission-types.js';

const [portArg, certFile, keyFile, host = '127.0.0.1'] = process.argv.slice(2);
if (!portArg || !certFile || !keyFile) {
  process.stderr.write('usage: webhook-server.js <port> <cert.pem> <key.pem> [host]\n');
  process.exit(2);
}

function answer(path: string, review: AdmissionReview): AdmissionResponse {
  const req = review.request!;
  const out: AdmissionResponse = { uid: req.uid, allowed: true };
  const obj = req.object as { kind?: string; data?: Record<string, string>; metadata?: { labels?: Record<string, string> } } | null;
  if (path === '/validate' && obj?.kind === 'ConfigMap' && obj.data && 'forbidden' in obj.data) {
    return { uid: req.uid, allowed: false, status: { code: 403, message: 'ConfigMaps may not carry the key "forbidden"' } };
  }
  if (path === '/mutate' && obj) {
    const ops = obj.metadata?.labels
      ? [{ op: 'add', path: '/metadata/labels/webhook.corral.dev~1mutated', value: 'yes' }]
      : [{ op: 'add', path: '/metadata/labels', value: { 'webhook.corral.dev/mutated': 'yes' } }];
    out.patchType = 'JSONPatch';
    out.patch = Buffer.from(JSON.stringify(ops)).toString('base64');
  }
  return out;
}

const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    try {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
      const path = (req.url ?? '/').split('?')[0]!;
      const response = answer(path, review);
      process.stdout.write(`${path} ${review.request?.operation} ${review.request?.name ?? ''} allowed=${response.allowed}\n`);
      const send = (): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
      };
      if (path === '/slow') setTimeout(send, 3000);
      else send();
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  });
});
server.listen(Number(portArg), host, () => process.stdout.write(`listening ${portArg}\n`));
