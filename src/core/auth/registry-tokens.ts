// Short-lived signed tokens for the Docker token authentication flow (the container registry's /v2/token).
// Wharf generates an ES256 key on first use and keeps it in the database, so every node signs and verifies
// with the same key. A token names the actor and the repository actions it was granted; the underlying
// personal or job token is checked again on every request, so revoking it takes effect at once.
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK, type CryptoKey } from 'jose';
import type { Db } from '../../db/database.ts';
import { nowIso } from '../clock.ts';

export interface RepositoryAccess {
  type: 'repository';
  name: string;
  actions: string[];
}

export interface RegistryClaims {
  /** Who: a user id (with the personal token id it came from, or null for a password) or a job token id. */
  wharf: { kind: 'user'; uid: number; tid: number | null } | { kind: 'job'; tid: number } | { kind: 'publisher'; tid: number } | { kind: 'anonymous' };
  access: RepositoryAccess[];
}

const ALG = 'ES256';
const ISSUER = 'wharf';

export class RegistryTokens {
  private keys: Promise<{ kid: string; privateKey: CryptoKey; publicKey: CryptoKey }> | null = null;

  constructor(private readonly db: Db) {}

  private load() {
    this.keys ??= (async () => {
      const oldest = () => this.db.selectFrom('signing_keys').selectAll().where('algorithm', '=', ALG).orderBy('created_at').limit(1).executeTakeFirst();
      let row = await oldest();
      if (!row) {
        const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
        const kid = randomUUID();
        await this.db
          .insertInto('signing_keys')
          .values({ kid, algorithm: ALG, private_jwk: JSON.stringify(await exportJWK(privateKey)), public_jwk: JSON.stringify(await exportJWK(publicKey)), created_at: nowIso() })
          .onConflict((oc) => oc.column('kid').doNothing())
          .execute();
        // Two nodes may have raced: everyone uses the oldest key.
        row = (await oldest())!;
      }
      return {
        kid: row.kid,
        privateKey: (await importJWK(JSON.parse(row.private_jwk) as JWK, ALG)) as CryptoKey,
        publicKey: (await importJWK(JSON.parse(row.public_jwk) as JWK, ALG)) as CryptoKey,
      };
    })();
    this.keys.catch(() => (this.keys = null));
    return this.keys;
  }

  /** Signs a token for `service` that expires in `ttlSeconds`. */
  async issue(claims: RegistryClaims, opts: { service: string; subject: string; ttlSeconds: number }): Promise<string> {
    const k = await this.load();
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: ALG, kid: k.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(opts.service)
      .setSubject(opts.subject)
      .setIssuedAt()
      .setNotBefore('-10s')
      .setExpirationTime(`${opts.ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(k.privateKey);
  }

  /** The claims of a valid token signed by us for `service` (its audience), or null. */
  async verify(jwt: string, service?: string): Promise<RegistryClaims | null> {
    try {
      const k = await this.load();
      const { payload } = await jwtVerify(jwt, k.publicKey, { issuer: ISSUER, algorithms: [ALG], ...(service ? { audience: service } : {}) });
      const p = payload as unknown as RegistryClaims;
      if (!p.wharf || !Array.isArray(p.access)) return null;
      return p;
    } catch {
      return null;
    }
  }
}

/** Looks like a JWT (three base64url parts), as opposed to a Wharf personal or job token. */
export const looksLikeJwt = (s: string) => /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(s);
