/**
 * `node cert-issuer-process.js` with an IssueJob as JSON on stdin: makes the certificate, prints the
 * CertifiedKey as JSON on stdout and exits. pki.ts starts it; keys travel only through the pipes.
 */
import { readFileSync } from 'node:fs';
import { generateCa, generateCertificate } from './cert-issuer.js';
import type { IssueJob } from './pki.js';

const job = JSON.parse(readFileSync(0, 'utf8')) as IssueJob;
(job.kind === 'ca' ? generateCa(job.commonName) : generateCertificate(job.ca, job.request)).then((issued) => {
  process.stdout.write(JSON.stringify(issued));
}, (err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
