/** known_hosts parsing and host key verification, against lines produced by OpenSSH's ssh-keygen. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  fingerprintSha256, hostFieldMatches, hostKeyName, hostKeyRefusal, knownHostsLine, knownKeyTypes, parseKnownHosts, verifyHostKey,
} from '../../installer/join/known-hosts.js';
import { hostKeyAlgorithmOrder } from '../../installer/join/ssh.js';

// Two ed25519 keys made with ssh-keygen; K1's fingerprint as `ssh-keygen -lf` printed it.
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIPd7w5Nj9ApG3ZTJcaEYTa5cAiVoB2chuTy5+yGwrrRS';
const K1_FP = 'SHA256:H7xU/StZ7MwZ5NN33oduYA/+xu/R3VqFuVIhDsukesk';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIMOisVJ8c1dBrWxTSjqRw8CZJM8N921NrFkzU04FaXsT';
const K2_FP = 'SHA256:9AT+REBrb4NBnNEuQJ4p5pnTE2hfeElqetghIIswucg';
const k1 = Buffer.from(K1, 'base64');
const k2 = Buffer.from(K2, 'base64');
// `ssh-keygen -H` of "pi-2.lan K1" and "[10.0.0.5]:2222 K1".
const HASHED = [
  `|1|Clbb1yXDNOJPH8rGsdWoDN2Qim8=|MTCvKEpOPvZxdVHk/2CGhmDfH0o= ssh-ed25519 ${K1}`,
  `|1|V6p5ffJV/qpZMSKrevLvwZYZzo4=|3SRr0KOR1NrMw0hIaoHM7tj2gq0= ssh-ed25519 ${K1}`,
].join('\n');

test('fingerprints match ssh-keygen -l', () => {
  assert.is(fingerprintSha256(k1), K1_FP);
  assert.is(fingerprintSha256(k2), K2_FP);
});

test('parses plain, marked and comment lines; skips malformed ones', () => {
  const entries = parseKnownHosts([
    '# comment', '', `pi-1,10.0.0.4 ssh-ed25519 ${K1} root@pi-1`, `@revoked bad.lan ssh-ed25519 ${K2}`,
    `@cert-authority *.lan ssh-ed25519 ${K2}`, 'garbage', `x ssh-rsa ${K1}`, `@weird y ssh-ed25519 ${K1}`,
  ].join('\n'));
  assert.equal(entries.map((e) => [e.line, e.hosts, e.marker ?? '-']), [[3, 'pi-1,10.0.0.4', '-'], [4, 'bad.lan', 'revoked'], [5, '*.lan', 'cert-authority']]);
});

test('hashed host names match only the hashed name and port form', () => {
  const entries = parseKnownHosts(HASHED);
  assert.is(verifyHostKey(entries, 'pi-2.lan', k1).status, 'match');
  assert.is(verifyHostKey(entries, hostKeyName('10.0.0.5', 2222), k1).status, 'match');
  assert.is(verifyHostKey(entries, hostKeyName('10.0.0.5'), k1).status, 'unknown');
  assert.is(verifyHostKey(entries, 'pi-3.lan', k1).status, 'unknown');
});

test('patterns: wildcards, negation, ports', () => {
  assert.ok(hostFieldMatches('*.lan,!pi-9.lan', 'pi-2.lan'));
  assert.not.ok(hostFieldMatches('*.lan,!pi-9.lan', 'pi-9.lan'));
  assert.ok(hostFieldMatches('10.0.0.?', '10.0.0.7'));
  assert.not.ok(hostFieldMatches('10.0.0.?', '10.0.0.17'));
  assert.ok(hostFieldMatches('[pi-2]:2222', '[pi-2]:2222'));
  assert.not.ok(hostFieldMatches('pi-2', '[pi-2]:2222'));
  assert.is(hostKeyName('pi-2'), 'pi-2');
  assert.is(hostKeyName('pi-2', 2200), '[pi-2]:2200');
});

test('a changed key is reported with both fingerprints and the ssh-keygen -R fix', () => {
  const entries = parseKnownHosts(`pi-1 ssh-ed25519 ${K1}\n`);
  const v = verifyHostKey(entries, 'pi-1', k2);
  assert.is(v.status, 'changed');
  if (v.status !== 'changed') return;
  assert.is(v.fingerprint, K2_FP);
  assert.equal(v.known, [{ line: 1, keyType: 'ssh-ed25519', fingerprint: K1_FP }]);
  const msg = hostKeyRefusal(v, 'pi-1', '/root/.ssh/known_hosts', k2);
  assert.match(msg, 'HAS CHANGED');
  assert.match(msg, K1_FP);
  assert.match(msg, K2_FP);
  assert.match(msg, "ssh-keygen -f /root/.ssh/known_hosts -R 'pi-1'");
});

test('revoked keys are refused even when also listed as known', () => {
  const entries = parseKnownHosts(`pi-1 ssh-ed25519 ${K1}\n@revoked * ssh-ed25519 ${K1}\n`);
  const v = verifyHostKey(entries, 'pi-1', k1);
  assert.is(v.status, 'revoked');
});

test('unknown host: refusal names the fingerprint and --accept-new-host-key; the recorded line then matches', () => {
  const v = verifyHostKey([], 'pi-4', k1);
  assert.is(v.status, 'unknown');
  if (v.status !== 'unknown') return;
  assert.match(hostKeyRefusal(v, 'pi-4', 'kh', k1), '--accept-new-host-key');
  assert.match(hostKeyRefusal(v, 'pi-4', 'kh', k1), K1_FP);
  const line = knownHostsLine('[pi-4]:2222', k1);
  assert.is(line, `[pi-4]:2222 ssh-ed25519 ${K1}\n`);
  assert.is(verifyHostKey(parseKnownHosts(line), '[pi-4]:2222', k1).status, 'match');
});

test('known key types come first in the host key algorithm order', () => {
  const entries = parseKnownHosts(`pi-1 ssh-ed25519 ${K1}\n`);
  assert.equal(knownKeyTypes(entries, 'pi-1'), ['ssh-ed25519']);
  assert.is(hostKeyAlgorithmOrder(['ssh-rsa'])[0], 'rsa-sha2-512');
  assert.is(hostKeyAlgorithmOrder([])[0], 'ssh-ed25519');
  assert.is(hostKeyAlgorithmOrder(['ecdsa-sha2-nistp256'])[0], 'ecdsa-sha2-nistp256');
});

test.run();
