// npm registry signatures: Wharf signs `name@version:integrity` of every version with an ECDSA P-256 key of its
// own (kept in the database, shared by every node) and serves the public key at /-/npm/v1/keys, so that
// `npm audit signatures` can verify what was installed from Wharf.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { nowIso } from '../../core/clock.ts';

const ALGORITHM = 'npm-ecdsa-p256';

export interface NpmKey {
  expires: string | null;
  keyid: string;
  keytype: string;
  scheme: string;
  key: string;
}

export class NpmSigner {
  private loaded: Promise<{ keyid: string; privateKey: KeyObject; publicDer: Buffer }> | null = null;
  private readonly memo = new Map<string, string>();

  constructor(private readonly db: Db) {}

  private load() {
    this.loaded ??= (async () => {
      const oldest = () => this.db.selectFrom('signing_keys').selectAll().where('algorithm', '=', ALGORITHM).orderBy('created_at').limit(1).executeTakeFirst();
      let row = await oldest();
      if (!row) {
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const publicDer = publicKey.export({ type: 'spki', format: 'der' });
        const kid = `SHA256:${createHash('sha256').update(publicDer).digest('base64').replace(/=+$/, '')}`;
        await this.db
          .insertInto('signing_keys')
          .values({ kid, algorithm: ALGORITHM, private_jwk: JSON.stringify(privateKey.export({ format: 'jwk' })), public_jwk: JSON.stringify(publicKey.export({ format: 'jwk' })), created_at: nowIso() })
          .onConflict((oc) => oc.column('kid').doNothing())
          .execute();
        row = (await oldest())!; // two nodes may race: everyone uses the oldest key
      }
      const privateKey = createPrivateKey({ key: JSON.parse(row.private_jwk), format: 'jwk' });
      const publicDer = createPublicKey({ key: JSON.parse(row.public_jwk), format: 'jwk' }).export({ type: 'spki', format: 'der' });
      return { keyid: row.kid, privateKey, publicDer };
    })();
    this.loaded.catch(() => (this.loaded = null));
    return this.loaded;
  }

  /** The public keys, as the npm registry's keys endpoint serves them. */
  async keys(): Promise<NpmKey[]> {
    const k = await this.load();
    return [{ expires: null, keyid: k.keyid, keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', key: k.publicDer.toString('base64') }];
  }

  /** `dist.signatures` for `name@version` with that integrity. */
  async signatures(id: string, integrity: string): Promise<{ keyid: string; sig: string }[]> {
    const k = await this.load();
    const message = `${id}:${integrity}`;
    let sig = this.memo.get(message);
    if (!sig) {
      sig = sign('sha256', Buffer.from(message), k.privateKey).toString('base64');
      if (this.memo.size > 100_000) this.memo.clear();
      this.memo.set(message, sig);
    }
    return [{ keyid: k.keyid, sig }];
  }
}
