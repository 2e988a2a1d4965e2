/**
 * The lab's "outside" resolver: a FakeUpstream on `<ip>:<port>` answering A records from a JSON
 * table (argv: ip port json). Started inside a lab host so agents forward to it, never to the real
 * network.
 */
import { FakeUpstream } from '../support/dns-client.js';

const [ip, port, table] = process.argv.slice(2);
if (!ip || !port || !table) throw new Error('usage: fake-dns.js IP PORT JSON');
const upstream = new FakeUpstream(JSON.parse(table) as Record<string, string[]>);
await upstream.start(ip, Number(port));
process.stdout.write(`fake upstream DNS on ${ip}:${port}\n`);
process.on('SIGTERM', () => { upstream.close(); process.exit(0); });
