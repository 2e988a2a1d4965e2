/**
 * Uploads a file over SFTP with the ssh2 package (the library corral's installer uses) and reports what
 * the server then has. Meant to run INSIDE the lab's control host (`lab.exec('control', [node, this])`),
 * because a socket opened by the test runner itself would come from the root network namespace.
 *
 * argv[2]: JSON { host, keyFile, hostKey: "ssh-ed25519 AAAA...", remotePath, bytes }
 * stdout:  JSON { localSha256, remoteSha256, remoteSize, ms }
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, type SFTPWrapper } from 'ssh2';

interface Job { host: string; keyFile: string; hostKey: string; remotePath: string; bytes: number }

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const expectedKey = Buffer.from(job.hostKey.split(' ')[1] ?? '', 'base64');
const data = randomBytes(job.bytes);
const started = performance.now();

function connect(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => resolve(c)).on('error', reject).connect({
      host: job.host,
      port: 22,
      username: 'root',
      privateKey: readFileSync(job.keyFile),
      // Pin the node's host key: the raw key blob must equal the one from known_hosts.
      hostVerifier: (key: Buffer) => key.equals(expectedKey),
      readyTimeout: 5_000,
    });
  });
}

function sftp(c: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

function run(c: Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => c.exec(command, (err, stream) => {
    if (err) return reject(err);
    let out = '';
    stream.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    stream.stderr.on('data', () => undefined);
    stream.on('close', () => resolve(out));
  }));
}

const client = await connect();
try {
  const s = await sftp(client);
  await new Promise<void>((resolve, reject) => s.writeFile(job.remotePath, data, (err) => (err ? reject(err) : resolve())));
  const size = await new Promise<number>((resolve, reject) => s.stat(job.remotePath, (err, st) => (err ? reject(err) : resolve(st.size))));
  const remoteSha256 = (await run(client, `sha256sum ${job.remotePath}`)).split(' ')[0] ?? '';
  process.stdout.write(JSON.stringify({
    localSha256: createHash('sha256').update(data).digest('hex'),
    remoteSha256,
    remoteSize: size,
    ms: Math.round(performance.now() - started),
  }) + '\n');
} finally {
  client.end();
}
