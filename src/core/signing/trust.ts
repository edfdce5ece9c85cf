// Which keys and keyless identities are trusted to sign an owner's (or one image's) content, where signatures
// are required, and the verdict on the signatures a format found (src/core/signing/sigstore.ts verifies; the
// format only extracts bytes: simple-signing payloads and Sigstore bundles).
import { createHash } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { nowIso } from '../clock.ts';
import { conflict, invalid, isWharfError, notFound } from '../errors.ts';
import type { Actor } from '../auth/actor.ts';
import type { Authorizer } from '../auth/authorize.ts';
import { AuditLog } from '../audit/audit.ts';
import type { Identity } from '../identity/identity.ts';
import { parsePublicKey } from './cosign-keys.ts';
import { bundleNamesDigest, checkIssuer, compileIdentity, parseBundle, SigstoreVerifier, verifySimpleSigning, type IdentityPolicy, type SignatureState, type SigningTrustSet } from './sigstore.ts';

/** What a format found attached to an image: cosign simple signatures and Sigstore bundles (raw bytes, untrusted). */
export interface ImageSignatures {
  /** `sha256:<hex>` of the image manifest. */
  digest: string;
  /** The repository as clients name it (`alice/app`), which a simple-signing payload must name. */
  repository: string;
  /** The manifest's bytes, for a bundle that signs them with a message signature. */
  manifest: () => Promise<Buffer>;
  simple: { payload: Buffer; signature: string }[];
  bundles: Buffer[];
}

export interface TrustedKey {
  id: number;
  fingerprint: string;
  publicPem: string;
  scope: string;
  createdAt?: string;
}

/** `SHA256:` + base64 of the key's SPKI DER hash: how keys are named in the API and on pages. */
export function fingerprintOf(publicPem: string): string {
  const der = parsePublicKey(publicPem).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

export class SigningTrust {
  constructor(
    private readonly db: Db,
    private readonly identity: Identity,
    private readonly authz: Authorizer,
    private readonly audit: AuditLog = new AuditLog(db),
    /** The verifier, with the operator's trusted root (WHARF_SIGSTORE_TRUSTED_ROOT) when one is configured. */
    readonly sigstore: SigstoreVerifier = new SigstoreVerifier(null),
  ) {}

  /**
   * Who may change the trust at a scope: an owner's policy is the owner's setting (manage 'owner'); an image's is
   * its package's (admin on it), or the owner's while the image does not exist yet.
   */
  private async guard(actor: Actor, ownerId: number, packageName: string | null): Promise<void> {
    const owner = await this.identity.ownerById(ownerId);
    if (!owner) throw notFound('no such owner');
    if (packageName !== null) {
      const pkg = await this.db.selectFrom('packages').selectAll().where('owner_id', '=', ownerId).where('type', '=', 'container').where('lower_name', '=', packageName.toLowerCase()).executeTakeFirst();
      if (pkg) {
        await this.authz.authorize(actor, 'admin', pkg);
        return;
      }
    }
    await this.authz.manage(actor, { what: 'owner', owner });
  }

  /** May the actor see and change the trust at this scope? (Pages and the REST API show it only then.) */
  async mayManage(actor: Actor, ownerId: number, packageName: string | null): Promise<boolean> {
    try {
      await this.guard(actor, ownerId, packageName);
      return true;
    } catch (e) {
      if (isWharfError(e) && (e.kind === 'NotFound' || e.kind === 'Forbidden' || e.kind === 'Unauthorized')) return false;
      throw e;
    }
  }

  /** `OWNER` or `OWNER/IMAGE` → owner and package name (null for the whole owner). */
  private async scope(target: string): Promise<{ ownerId: number; packageName: string | null }> {
    const [owner, ...rest] = target.split('/');
    const o = await this.identity.requireOwner(owner);
    return { ownerId: o.id, packageName: rest.length ? rest.join('/') : null };
  }

  async trust(actor: Actor, target: string, publicPem: string): Promise<TrustedKey> {
    const { ownerId, packageName } = await this.scope(target);
    return this.trustAt(actor, ownerId, packageName, publicPem);
  }

  /** Trusts a key for an owner's images (`packageName` null) or one image. The same key twice is a Conflict. */
  async trustAt(actor: Actor, ownerId: number, packageName: string | null, publicPem: string): Promise<TrustedKey> {
    await this.guard(actor, ownerId, packageName);
    let fingerprint: string;
    try {
      fingerprint = fingerprintOf(publicPem);
    } catch (e) {
      throw invalid(`not a usable public key: ${(e as Error).message}`);
    }
    if ((await this.keysAt(ownerId, packageName)).some((k) => k.fingerprint === fingerprint)) throw conflict(`key ${fingerprint} is trusted here already`);
    const row = await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const row = await trx.insertInto('trusted_keys').values({ owner_id: ownerId, package_name: packageName, public_pem: publicPem, fingerprint, created_at: nowIso() }).returningAll().executeTakeFirstOrThrow();
      await this.audit.record(trx, { action: 'signing.trust', actor, ownerId, target: packageName, details: { fingerprint, package: packageName } });
      return row;
    });
    return { id: row.id, fingerprint, publicPem, scope: packageName ?? '', createdAt: row.created_at };
  }

  /** The keys trusted at exactly this scope (an owner's: `packageName` null). */
  async keysAt(ownerId: number, packageName: string | null): Promise<TrustedKey[]> {
    let q = this.db.selectFrom('trusted_keys').selectAll().where('owner_id', '=', ownerId);
    q = packageName === null ? q.where('package_name', 'is', null) : q.where('package_name', '=', packageName);
    return (await q.orderBy('id').execute()).map((r) => ({ id: r.id, fingerprint: r.fingerprint, publicPem: r.public_pem, scope: r.package_name ?? '', createdAt: r.created_at }));
  }

  /** Stops trusting a key at this scope. */
  async untrustAt(actor: Actor, ownerId: number, packageName: string | null, id: number): Promise<void> {
    await this.guard(actor, ownerId, packageName);
    await this.removeKey(actor, ownerId, packageName, (q) => q.where('id', '=', id));
  }

  /** Deletes one trusted key at a scope and records it, in one transaction. */
  private async removeKey(actor: Actor, ownerId: number, packageName: string | null, which: (q: any) => any): Promise<void> {
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      let q = trx.deleteFrom('trusted_keys').where('owner_id', '=', ownerId);
      q = packageName === null ? q.where('package_name', 'is', null) : q.where('package_name', '=', packageName);
      const row = await which(q).returning('fingerprint').executeTakeFirst();
      if (!row) throw notFound('no such trusted key');
      await this.audit.record(trx, { action: 'signing.untrust', actor, ownerId, target: packageName, details: { fingerprint: row.fingerprint, package: packageName } });
    });
  }

  /** Is "require signed images" set at exactly this scope? */
  async requiredAt(ownerId: number, packageName: string | null): Promise<boolean> {
    let q = this.db.selectFrom('signing_policies').select('id').where('owner_id', '=', ownerId);
    q = packageName === null ? q.where('package_name', 'is', null) : q.where('package_name', '=', packageName);
    return !!(await q.executeTakeFirst());
  }

  async untrust(actor: Actor, target: string, fingerprint: string): Promise<void> {
    const { ownerId, packageName } = await this.scope(target);
    await this.guard(actor, ownerId, packageName);
    await this.removeKey(actor, ownerId, packageName, (q) => q.where('fingerprint', '=', fingerprint));
  }

  /** Keys trusted for a package: the owner's and the package's own. */
  async keysFor(ownerId: number, packageName: string): Promise<TrustedKey[]> {
    const rows = await this.db
      .selectFrom('trusted_keys')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where((eb) => eb.or([eb('package_name', 'is', null), eb('package_name', '=', packageName)]))
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, fingerprint: r.fingerprint, publicPem: r.public_pem, scope: r.package_name ?? '' }));
  }

  async setRequired(actor: Actor, target: string, required: boolean): Promise<void> {
    const { ownerId, packageName } = await this.scope(target);
    await this.setRequiredAt(actor, ownerId, packageName, required);
  }

  async setRequiredAt(actor: Actor, ownerId: number, packageName: string | null, required: boolean): Promise<void> {
    await this.guard(actor, ownerId, packageName);
    if ((await this.requiredAt(ownerId, packageName)) === required) return;
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      let q = trx.deleteFrom('signing_policies').where('owner_id', '=', ownerId);
      q = packageName === null ? q.where('package_name', 'is', null) : q.where('package_name', '=', packageName);
      await q.execute();
      if (required) await trx.insertInto('signing_policies').values({ owner_id: ownerId, package_name: packageName, created_at: nowIso() }).execute();
      await this.audit.record(trx, { action: 'signing.policy', actor, ownerId, target: packageName, details: { required, package: packageName } });
    });
  }

  /** Must content of this package be signed by a trusted key to be pulled? */
  async required(ownerId: number, packageName: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('signing_policies')
      .select('id')
      .where('owner_id', '=', ownerId)
      .where((eb) => eb.or([eb('package_name', 'is', null), eb('package_name', '=', packageName)]))
      .executeTakeFirst();
    return !!row;
  }

  async addIdentity(actor: Actor, target: string, identity: string, issuer: string): Promise<IdentityPolicy> {
    const { ownerId, packageName } = await this.scope(target);
    return this.addIdentityAt(actor, ownerId, packageName, identity, issuer);
  }

  /** Trusts keyless signatures whose certificate identity matches `identity` (a regexp) and whose issuer is `issuer`. */
  async addIdentityAt(actor: Actor, ownerId: number, packageName: string | null, identity: string, issuer: string): Promise<IdentityPolicy> {
    await this.guard(actor, ownerId, packageName);
    compileIdentity(identity);
    checkIssuer(issuer);
    if ((await this.identitiesAt(ownerId, packageName)).some((p) => p.identity === identity && p.issuer === issuer)) throw conflict('this identity is trusted here already');
    const row = await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const row = await trx.insertInto('signing_identities').values({ owner_id: ownerId, package_name: packageName, identity, issuer, created_at: nowIso() }).returningAll().executeTakeFirstOrThrow();
      await this.audit.record(trx, { action: 'signing.identity.add', actor, ownerId, target: packageName, details: { identity, issuer, package: packageName } });
      return row;
    });
    return { id: row.id, identity, issuer, scope: packageName ?? '', createdAt: row.created_at };
  }

  /** The identity policies at exactly this scope (an owner's: `packageName` null). */
  async identitiesAt(ownerId: number, packageName: string | null): Promise<IdentityPolicy[]> {
    let q = this.db.selectFrom('signing_identities').selectAll().where('owner_id', '=', ownerId);
    q = packageName === null ? q.where('package_name', 'is', null) : q.where('package_name', '=', packageName);
    return (await q.orderBy('id').execute()).map((r) => ({ id: r.id, identity: r.identity, issuer: r.issuer, scope: r.package_name ?? '', createdAt: r.created_at }));
  }

  /** Identity policies for a package: the owner's and the package's own. */
  async identitiesFor(ownerId: number, packageName: string): Promise<IdentityPolicy[]> {
    const rows = await this.db
      .selectFrom('signing_identities')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where((eb) => eb.or([eb('package_name', 'is', null), eb('package_name', '=', packageName)]))
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, identity: r.identity, issuer: r.issuer, scope: r.package_name ?? '' }));
  }

  async removeIdentity(actor: Actor, target: string, id: number): Promise<void> {
    const { ownerId, packageName } = await this.scope(target);
    await this.removeIdentityAt(actor, ownerId, packageName, id);
  }

  /** Stops trusting an identity policy at this scope. */
  async removeIdentityAt(actor: Actor, ownerId: number, packageName: string | null, id: number): Promise<void> {
    await this.guard(actor, ownerId, packageName);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      let q = trx.deleteFrom('signing_identities').where('owner_id', '=', ownerId).where('id', '=', id);
      q = packageName === null ? q.where('package_name', 'is', null) : q.where('package_name', '=', packageName);
      const row = await q.returning(['identity', 'issuer']).executeTakeFirst();
      if (!row) throw notFound('no such trusted identity');
      await this.audit.record(trx, { action: 'signing.identity.remove', actor, ownerId, target: packageName, details: { identity: row.identity, issuer: row.issuer, package: packageName } });
    });
  }

  /** Keys and identities trusted for a package. */
  async trustFor(ownerId: number, packageName: string): Promise<SigningTrustSet> {
    const [keys, identities] = await Promise.all([this.keysFor(ownerId, packageName), this.identitiesFor(ownerId, packageName)]);
    return { keys, identities };
  }

  /**
   * The verdict on an image's signatures: signed as soon as one simple signature or bundle verifies against the
   * trust set here; otherwise why the last one failed; unsigned when there is none.
   */
  async verifyImage(ownerId: number, packageName: string, found: ImageSignatures): Promise<SignatureState> {
    if (!found.simple.length && !found.bundles.length) return { state: 'unsigned' };
    const trust = await this.trustFor(ownerId, packageName);
    let verdict: SignatureState = { state: 'invalid', detail: 'no signature could be read' };
    for (const s of found.simple) {
      verdict = verifySimpleSigning(s.payload, s.signature, found.digest, found.repository, trust.keys);
      if (verdict.state === 'signed') return verdict;
    }
    let manifest: Buffer | undefined;
    for (const bytes of found.bundles) {
      let bundle;
      try {
        bundle = parseBundle(bytes);
      } catch (e) {
        verdict = { state: 'invalid', detail: (e as Error).message };
        continue;
      }
      if (!bundleNamesDigest(bundle, found.digest)) {
        verdict = { state: 'invalid', detail: 'the Sigstore bundle is for another digest' };
        continue;
      }
      if (bundle.content.$case === 'messageSignature') manifest ??= await found.manifest();
      const memoKey = `${createHash('sha256').update(bytes).digest('hex')}|${found.digest}`;
      verdict = this.sigstore.verifyBundle(bundle, bundle.content.$case === 'messageSignature' ? manifest : undefined, trust, memoKey);
      if (verdict.state === 'signed') return verdict;
    }
    return verdict;
  }
}
