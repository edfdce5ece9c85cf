// Cosign's key files: an ECDSA P-256 key pair, the private key encrypted as cosign and skopeo expect it —
// PEM "ENCRYPTED SIGSTORE PRIVATE KEY" holding JSON {kdf: scrypt, cipher: nacl/secretbox, ciphertext} over the
// PKCS#8 DER of the key (the secure-systems-lab "encrypted" format cosign uses).
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';

const KDF = { N: 32768, r: 8, p: 1 };

function pem(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

function derive(password: string, salt: Buffer, params = KDF): Buffer {
  return scryptSync(password, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r });
}

/** A new key pair: the encrypted private key (cosign.key) and the public key (cosign.pub), both PEM. */
export function generateCosignKeyPair(password: string): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const ciphertext = xsalsa20poly1305(derive(password, salt), nonce).encrypt(der);
  const doc = {
    kdf: { name: 'scrypt', params: KDF, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return {
    privatePem: pem('ENCRYPTED SIGSTORE PRIVATE KEY', Buffer.from(JSON.stringify(doc))),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Decrypts a cosign private key file (for tests and tools); throws on a wrong password. */
export function decryptCosignKey(privatePem: string, password: string): KeyObject {
  const m = /-----BEGIN (?:ENCRYPTED SIGSTORE|ENCRYPTED COSIGN) PRIVATE KEY-----([\s\S]+?)-----END/.exec(privatePem);
  if (!m) throw new Error('not a cosign private key');
  const doc = JSON.parse(Buffer.from(m[1].replace(/\s+/g, ''), 'base64').toString('utf8'));
  if (doc.kdf?.name !== 'scrypt' || doc.cipher?.name !== 'nacl/secretbox') throw new Error('unsupported cosign key encryption');
  const key = derive(password, Buffer.from(doc.kdf.salt, 'base64'), doc.kdf.params);
  let der: Uint8Array;
  try {
    der = xsalsa20poly1305(key, Buffer.from(doc.cipher.nonce, 'base64')).decrypt(Buffer.from(doc.ciphertext, 'base64'));
  } catch {
    throw new Error('wrong password for the cosign key');
  }
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
}

/** A public key from PEM, checked to be ECDSA P-256 (what cosign's simple signing uses). */
export function parsePublicKey(publicPem: string): KeyObject {
  const key = createPublicKey(publicPem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('the key must be an ECDSA P-256 public key');
  return key;
}
