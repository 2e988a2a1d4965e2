/**
 * `node helper-main.js JOB` with the job's JSON input on stdin: does one job, prints its JSON answer
 * on stdout and exits (run-helper.ts starts it). Each job imports its library only here.
 *   system-facts       → SystemFacts (systeminformation's CPU and system readings)
 *   self-signed-cert   SelfSignedOptions → ServingCert (@peculiar/x509)
 */
import { readFileSync } from 'node:fs';

async function run(job: string | undefined, input: unknown): Promise<unknown> {
  if (job === 'system-facts') return (await import('../hardware/system-facts.js')).readSystemFacts();
  if (job === 'self-signed-cert') return (await import('../logs/self-signed-cert.js')).generateSelfSignedCert(input as Parameters<typeof import('../logs/self-signed-cert.js').generateSelfSignedCert>[0]);
  throw new Error(`unknown helper job ${job ?? '(none)'}`);
}

const [job] = process.argv.slice(2);
run(job, JSON.parse(readFileSync(0, 'utf8') || 'null') as unknown).then((answer) => {
  process.stdout.write(JSON.stringify(answer));
}, (err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
