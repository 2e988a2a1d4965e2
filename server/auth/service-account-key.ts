/**
 * The key that signs service-account tokens: an RSA key generated once and kept (PKCS#8 PEM, mode
 * 0600) in the data dir, so tokens stay valid across restarts. Its key id is what upstream uses: the
 * base64url SHA-256 of the public key's DER (SubjectPublicKeyInfo).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportJWK, type JWK } from 'jose';

export interface ServiceAccountKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: string;
  /** The public key as a JWK for the JWKS document (`use: sig`, `alg: RS256`, `kid`). */
  jwk: JWK;
}

export async function loadOrCreateServiceAccountKey(file: string): Promise<ServiceAccountKey> {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    renameSync(tmp, file);
  }
  const pem = readFileSync(file, 'utf8');
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const kid = createHash('sha256').update(der).digest('base64url');
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
  return { privateKey, publicKey, kid, jwk };
}
