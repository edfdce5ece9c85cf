// Every change to packages, one transaction each. Content is already durable in the blob store when these run.
// Each change records its event inside its transaction (webhook deliveries are written with the change, see
// events.ts) and announces it in-process after the commit. A unique violation (same version twice) is a
// Conflict, never a 500.
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { isUniqueViolation } from '../db/database.ts';
import type { Package, PackageVersion, Role, Visibility } from '../db/tables.ts';
import { AuditLog, type AuditAction } from './audit/audit.ts';
import type { Actor } from './auth/actor.ts';
import { actorName } from './auth/actor.ts';
import { PUBLISHED_VIA, publishedVia } from './auth/trusted-publishers.ts';
import type { Action, Authorizer } from './auth/authorize.ts';
import type { StagedBlob } from './blobs/blob-store.ts';
import { markWritten, Marks } from './blobs/fence.ts';
import { nowIso } from './clock.ts';
import { conflict, forbidden, invalid, notFound } from './errors.ts';
import type { Events, PackageEvent } from './events/events.ts';
import { Usage, type Adding, type QuotaDefaults } from './usage.ts';

/** Content already in the store (e.g. an OCI layer a manifest refers to). */
export interface StoredBlob {
  digest: string;
  size: number;
}

export interface NewFile {
  name: string;
  blob: StagedBlob | StoredBlob;
  contentType: string;
  primary?: boolean;
}

export interface NewVersion {
  ownerId: number;
  type: string;
  name: string;
  version: string;
  /** Normalized form used for uniqueness (defaults to lower-cased version). */
  normalizedVersion?: string;
  metadata: unknown;
  /** Merged into the package's metadata (format-owned JSON). */
  packageMetadata?: Record<string, unknown>;
  files: NewFile[];
  /** Tags to point at this version. */
  tags?: string[];
  /** Lookup facts on the version (package_properties), written with it. */
  properties?: { name: string; value: string }[];
  /** Repository to link a newly created package to. */
  repositoryId: number | null;
  actor: Actor;
}

const userIdOf = (a: Actor) => (a.kind === 'user' ? a.user.id : null);

export class Publisher {
  constructor(
    private readonly db: Db,
    private readonly events: Events,
    /** Every verb asks it first: a format or page that forgot to authorize still cannot change what it may not. */
    private readonly authz: Authorizer,
    private readonly restoreDays: number,
    /** Resolves once committed changes are on disk; awaited before a change is acknowledged. */
    private readonly durable: () => Promise<void> = async () => {},
    private readonly audit: AuditLog = new AuditLog(db),
    /** Whether the blob store holds a digest (stored content named without its `blobs` row: see commitBlobs). */
    private readonly storeHas: (digest: string) => Promise<boolean> = async () => true,
    quotaDefaults?: QuotaDefaults,
  ) {
    this.usage = new Usage(db, quotaDefaults, authz);
    this.marks = new Marks(db);
  }

  /** Blob marks of concurrent changes, written together (blobs/fence.ts). */
  private readonly marks: Marks;

  /** Storage usage and quotas, kept by these verbs in each change's transaction. */
  readonly usage: Usage;

  /**
   * The quota decision, before anything is stored where a format knows the size up front (a declared
   * Content-Length); the verbs decide again, exactly, inside their transactions.
   */
  checkQuota(ownerId: number, adding: Adding): Promise<void> {
    return this.usage.check(ownerId, adding);
  }

  /** What a body of undeclared size may add under the owner's storage quota (null: no limit); see Usage.headroom. */
  quotaHeadroom(ownerId: number): Promise<number | null> {
    return this.usage.headroom(ownerId);
  }

  /** Throws unless `actor` may do `action` on the package (deleted or not). */
  private async allow(actor: Actor, action: Action, packageId: number): Promise<void> {
    const pkg = await this.db.selectFrom('packages').select(['id', 'owner_id', 'type', 'name', 'visibility', 'repository_id', 'inherit_access']).where('id', '=', packageId).executeTakeFirst();
    if (!pkg) throw notFound('package not found');
    await this.authz.authorize(actor, action, pkg);
  }

  /** Throws unless `actor` may publish into the package `v` names: write on it when it exists, else create it. */
  private async allowPublish(v: { ownerId: number; type: string; name: string; repositoryId: number | null; actor: Actor }): Promise<void> {
    const pkg = await this.db.selectFrom('packages').select(['id', 'owner_id', 'type', 'name', 'visibility', 'repository_id', 'inherit_access']).where('owner_id', '=', v.ownerId).where('type', '=', v.type).where('lower_name', '=', v.name.toLowerCase()).executeTakeFirst();
    if (pkg) return void (await this.authz.authorize(v.actor, 'write', pkg));
    const owner = await this.db.selectFrom('owners').select(['id', 'kind', 'name']).where('id', '=', v.ownerId).executeTakeFirst();
    if (!owner) throw notFound('no such owner');
    await this.authz.authorizeCreate(v.actor, owner, v.repositoryId, { type: v.type, name: v.name });
  }

  /** Records a change to a package in the audit log, inside the change's transaction (`details` adds facts). */
  private async audited(trx: Db, action: AuditAction, packageId: number, actor: Actor, o: { version?: string; userId?: number | null; details?: Record<string, unknown> } = {}) {
    const p = await trx.selectFrom('packages').select(['owner_id', 'repository_id', 'type', 'name']).where('id', '=', packageId).executeTakeFirstOrThrow();
    await this.audit.record(trx, {
      action, actor, ownerId: p.owner_id, repositoryId: p.repository_id, packageId, userId: o.userId,
      target: `${p.type}/${p.name}${o.version !== undefined ? ` ${o.version}` : ''}`,
      details: { package_type: p.type, package: p.name, ...(o.version !== undefined ? { version: o.version } : {}), ...o.details },
    });
  }

  /** The version string of a version, for the audit log. */
  private async versionName(trx: Db, versionId: number): Promise<string> {
    return (await trx.selectFrom('package_versions').select('version').where('id', '=', versionId).executeTakeFirstOrThrow()).version;
  }

  /** Runs `fn` in one transaction that also records the event it returns; announces the event once durable. */
  private async change<T>(fn: (trx: Db) => Promise<{ result: T; event: PackageEvent }>): Promise<T> {
    const { result, event } = await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const r = await fn(trx);
      await this.events.record(trx, r.event);
      return r;
    });
    await this.durable();
    this.events.emit(event);
    return result;
  }

  private bump(trx: Db, packageId: number) {
    return trx.updateTable('packages').set((eb) => ({ revision: eb('revision', '+', 1), updated_at: nowIso() })).where('id', '=', packageId).execute();
  }

  /**
   * Makes staged content visible, fenced against a garbage collection running on any node (blobs/fence.ts): marks
   * every blob as written now, then commits the staged ones; stored ones must still exist after the mark.
   */
  async commitBlobs(blobs: (StagedBlob | StoredBlob)[]): Promise<void> {
    await markWritten(this.db, blobs.map((b) => b.digest), blobs.filter((b) => !('commit' in b)).map((b) => b.digest), this.storeHas, this.marks);
    // In parallel: each commit waits on the file system's flush, and concurrent flushes share the journal's.
    const results = await Promise.allSettled(blobs.filter((b): b is StagedBlob => 'commit' in b).map((b) => b.commit()));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  /** Records stored blobs (idempotent). */
  private async insertBlobs(trx: Db, blobs: (StagedBlob | StoredBlob)[], now: string) {
    for (const b of blobs) {
      const extra = 'extra' in b ? b.extra : {};
      await trx
        .insertInto('blobs')
        .values({ digest: b.digest, size: b.size, sha1: extra.sha1 ?? null, sha512: extra.sha512 ?? null, md5: extra.md5 ?? null, created_at: now })
        .onConflict((oc) => oc.column('digest').doNothing())
        .execute();
    }
  }

  /**
   * The package, created when missing (private unless `visibility` says otherwise, linked to `repositoryId`) or
   * revived when deleted. A proxy's packages are created with its visibility in the same statement: a row that
   * is briefly private would answer concurrent readers 401.
   */
  private async upsertPackage(trx: Db, v: { ownerId: number; type: string; name: string; repositoryId: number | null; inheritAccess?: boolean; visibility?: Visibility; actor: Actor; packageMetadata?: Record<string, unknown> }, now: string) {
    const lower = v.name.toLowerCase();
    const find = () => trx.selectFrom('packages').selectAll().where('owner_id', '=', v.ownerId).where('type', '=', v.type).where('lower_name', '=', lower).executeTakeFirst();
    // Most publishes go to a package that exists: look first, insert only when missing (a concurrent creator
    // makes the insert do nothing, and the second look finds its row).
    const found = await find();
    if (!found || found.deleted_at) await this.usage.check(v.ownerId, { packages: 1 }, trx);
    const inserted = found ? undefined : await trx
      .insertInto('packages')
      .values({
        owner_id: v.ownerId, type: v.type, name: v.name, lower_name: lower,
        // A package not linked to a repository is private until its owner makes it public (as on GitHub).
        visibility: v.visibility ?? 'private', repository_id: v.repositoryId, inherit_access: v.inheritAccess === false ? 0 : 1,
        metadata: JSON.stringify(v.packageMetadata ?? {}), revision: 1, created_at: now, updated_at: now, deleted_at: null,
      })
      .onConflict((oc) => oc.columns(['owner_id', 'type', 'lower_name']).doNothing())
      .returningAll()
      .executeTakeFirst();
    const pkg = found ?? inserted ?? (await find());
    if (!pkg) throw new Error(`package ${v.name} neither found nor created`);
    if (inserted && v.actor.kind === 'user' && v.actor.user.id !== v.ownerId) {
      // A member publishing into an org administers what they created (GitHub gives the publisher admin).
      await trx.insertInto('package_access').values({ package_id: pkg.id, user_id: v.actor.user.id, repository_id: null, role: 'admin' }).execute();
    }
    if (inserted && v.actor.kind === 'job') {
      // A job's repository keeps write on what the job created (GitHub: the workflow's repository is granted the
      // package), shown with the package's other grants: it lasts if the package stops inheriting (and an OCI
      // image a job starts inherits only once its manifest confirms the link), until an admin revokes it.
      await trx.insertInto('package_access').values({ package_id: pkg.id, user_id: null, repository_id: v.actor.repositoryId, role: 'write' }).execute();
    }
    if (pkg.deleted_at) {
      // Publishing into a deleted package revives it; its old versions stay deleted (restorable on their own).
      await trx.updateTable('package_versions').set({ deleted_at: pkg.deleted_at }).where('package_id', '=', pkg.id).where('deleted_at', 'is', null).execute();
      await trx.updateTable('packages').set({ deleted_at: null }).where('id', '=', pkg.id).execute();
    }
    if (inserted || pkg.deleted_at) await this.usage.packageAppears(trx, pkg.owner_id, pkg.id);
    return { pkg, created: !!inserted };
  }

  /** The package (created or revived as a publish would), for protocols that upload content before versions. */
  async ensurePackage(v: { ownerId: number; type: string; name: string; repositoryId: number | null; inheritAccess?: boolean; visibility?: Visibility; actor: Actor }): Promise<{ pkg: Package; created: boolean }> {
    await this.allowPublish(v);
    return this.db.transaction().execute((trx) => this.upsertPackage(trx as unknown as Db, v, nowIso()));
  }

  /**
   * Keeps a blob with a package outside any version (an OCI layer uploaded or mounted before its manifest).
   * Commits a staged blob first. Garbage collection does not count this hold as a reference: it lasts the grace
   * period unless a version names the blob (see blobs/gc.ts).
   */
  async attachBlob(packageId: number, blob: StagedBlob | StoredBlob): Promise<void> {
    // A mount (stored content) counts as a write too: the hold then lasts the grace period from now.
    await this.commitBlobs([blob]);
    const now = nowIso();
    await this.db.transaction().execute(async (trx) => {
      await this.insertBlobs(trx as unknown as Db, [blob], now);
      const has = await trx.selectFrom('package_properties').select('id').where('ref_type', '=', 'package').where('ref_id', '=', packageId).where('name', '=', 'blob').where('value', '=', blob.digest).executeTakeFirst();
      if (!has) await trx.insertInto('package_properties').values({ ref_type: 'package', ref_id: packageId, name: 'blob', value: blob.digest }).execute();
    });
    await this.durable();
  }

  /** Drops a package's hold on a blob (the content itself goes at garbage collection, if nothing else holds it). */
  async detachBlob(packageId: number, digest: string): Promise<boolean> {
    const r = await this.db.deleteFrom('package_properties').where('ref_type', '=', 'package').where('ref_id', '=', packageId).where('name', '=', 'blob').where('value', '=', digest).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Sets format facts on a version, for lookups (e.g. the OCI subject a manifest refers to). */
  async setVersionProperty(versionId: number, name: string, value: string): Promise<void> {
    await this.db.insertInto('package_properties').values({ ref_type: 'version', ref_id: versionId, name, value }).execute();
  }

  /**
   * Creates a version (and its package when new): commits the staged blobs, then writes every row in one
   * transaction. Exactly one of concurrent publishes of the same version wins; the others get Conflict.
   */
  async createVersion(v: NewVersion): Promise<{ pkg: Package; version: PackageVersion; createdPackage: boolean }> {
    await this.allowPublish(v);
    await this.commitBlobs(v.files.map((f) => f.blob));
    const now = nowIso();
    return this.change(async (trx) => {
      await this.insertBlobs(trx as unknown as Db, v.files.map((f) => f.blob), now);
      const up = await this.upsertPackage(trx as unknown as Db, v, now);
      let pkg = up.pkg;
      const createdPackage = up.created;
      const counted = v.files.map((f) => f.blob);
      await this.usage.check(pkg.owner_id, { bytes: await this.usage.newBytes(trx, pkg.owner_id, counted) }, trx);
      const metadata = !createdPackage && v.packageMetadata ? JSON.stringify({ ...JSON.parse(pkg.metadata), ...v.packageMetadata }) : undefined;
      let version: PackageVersion;
      try {
        version = await trx
          .insertInto('package_versions')
          .values({
            package_id: pkg.id, version: v.version, lower_version: (v.normalizedVersion ?? v.version).toLowerCase(), metadata: JSON.stringify(v.metadata),
            created_by: userIdOf(v.actor), created_at: now, updated_at: now, deleted_at: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
      } catch (e) {
        if (isUniqueViolation(e)) throw conflict(`version ${v.version} of ${v.name} already exists`, 'EPUBLISHCONFLICT');
        throw e;
      }
      for (const f of v.files) {
        await trx
          .insertInto('package_files')
          .values({ version_id: version.id, name: f.name, lower_name: f.name.toLowerCase(), blob_digest: f.blob.digest, size: f.blob.size, content_type: f.contentType, is_primary: f.primary ? 1 : 0, created_at: now })
          .execute();
      }
      await this.usage.apply(trx, pkg.owner_id, pkg.id, counted, 1, 1);
      for (const tag of v.tags ?? []) {
        await this.guardTag(trx as unknown as Db, pkg.id, tag, version.id, v.actor, false, pkg);
        await this.upsertTag(trx as unknown as Db, pkg.id, tag, version.id);
      }
      for (const p of v.properties ?? []) await trx.insertInto('package_properties').values({ ref_type: 'version', ref_id: version.id, name: p.name, value: p.value }).execute();
      // A trusted publisher's workflow run is kept on the version (its page and the REST API show it) and audited.
      const via = publishedVia(v.actor);
      if (via) {
        await trx.insertInto('package_properties').values({ ref_type: 'version', ref_id: version.id, name: PUBLISHED_VIA, value: JSON.stringify(via) }).execute();
        await this.audited(trx as unknown as Db, 'package_version.publish', pkg.id, v.actor, { version: v.version, details: { published_via: via } });
      }
      // The revision bump, the metadata merge and the row to return, in one statement.
      pkg = await trx
        .updateTable('packages')
        .set((eb) => ({ revision: eb('revision', '+', 1), updated_at: nowIso(), ...(metadata !== undefined ? { metadata } : {}) }))
        .where('id', '=', pkg.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { result: { pkg, version, createdPackage }, event: { type: 'version.published', packageId: pkg.id, versionId: version.id, actor: actorName(v.actor) } };
    });
  }

  /**
   * Adds files (and lookup properties) to a live version, in one transaction: content attached after the fact,
   * such as a NuGet symbol package or the next file of a Maven deploy. A file name the version already has is a
   * Conflict (`EFILECONFLICT`) unless `replace` (a Maven SNAPSHOT file deployed again). `versionMetadata`
   * replaces the version's metadata, `packageMetadata` is merged into the package's.
   */
  async addFiles(
    packageId: number, versionId: number, files: NewFile[], properties: { name: string; value: string }[], actor: Actor,
    opts: { replace?: boolean; versionMetadata?: unknown; packageMetadata?: Record<string, unknown> } = {},
  ): Promise<void> {
    await this.allow(actor, 'write', packageId);
    await this.commitBlobs(files.map((f) => f.blob));
    const now = nowIso();
    await this.change(async (trx) => {
      const v = await trx.selectFrom('package_versions').select('id').where('id', '=', versionId).where('package_id', '=', packageId).where('deleted_at', 'is', null).executeTakeFirst();
      if (!v) throw notFound('version not found');
      const live = await this.usage.versionFiles(trx, versionId);
      // Replacing files is judged by what it adds net of what it frees, once both are applied (below).
      const before = live && opts.replace ? (await this.usage.owner(live.ownerId, trx)).bytes : undefined;
      if (live && before === undefined) await this.usage.check(live.ownerId, { bytes: await this.usage.newBytes(trx, live.ownerId, files.map((f) => f.blob)) }, trx);
      await this.insertBlobs(trx, files.map((f) => f.blob), now);
      const added: { digest: string; size: number }[] = [];
      const replaced: { digest: string; size: number }[] = [];
      for (const f of files) {
        const lower = f.name.toLowerCase();
        const old = opts.replace ? await trx.selectFrom('package_files').select(['id', 'blob_digest', 'size']).where('version_id', '=', versionId).where('lower_name', '=', lower).executeTakeFirst() : undefined;
        added.push(f.blob);
        if (old) {
          replaced.push({ digest: old.blob_digest, size: old.size });
          await trx.updateTable('package_files').set({ blob_digest: f.blob.digest, size: f.blob.size, content_type: f.contentType, created_at: now }).where('id', '=', old.id).execute();
          continue;
        }
        try {
          await trx
            .insertInto('package_files')
            .values({ version_id: versionId, name: f.name, lower_name: lower, blob_digest: f.blob.digest, size: f.blob.size, content_type: f.contentType, is_primary: f.primary ? 1 : 0, created_at: now })
            .execute();
        } catch (e) {
          if (isUniqueViolation(e)) throw conflict(`the version already has a file named ${f.name}`, 'EFILECONFLICT');
          throw e;
        }
      }
      if (live) {
        await this.usage.apply(trx, live.ownerId, live.packageId, added, 1);
        await this.usage.apply(trx, live.ownerId, live.packageId, replaced, -1);
        if (before !== undefined) await this.usage.checkGrowth(trx, live.ownerId, before);
      }
      for (const p of properties) await trx.insertInto('package_properties').values({ ref_type: 'version', ref_id: versionId, name: p.name, value: p.value }).execute();
      const versionSet: Record<string, unknown> = { updated_at: now };
      if (opts.versionMetadata !== undefined) versionSet.metadata = JSON.stringify(opts.versionMetadata);
      await trx.updateTable('package_versions').set(versionSet).where('id', '=', versionId).execute();
      if (opts.packageMetadata) {
        const pkg = await trx.selectFrom('packages').select('metadata').where('id', '=', packageId).executeTakeFirstOrThrow();
        await trx.updateTable('packages').set({ metadata: JSON.stringify({ ...JSON.parse(pkg.metadata), ...opts.packageMetadata }) }).where('id', '=', packageId).execute();
      }
      await this.bump(trx, packageId);
      return { result: undefined, event: { type: 'version.updated', packageId, versionId, actor: actorName(actor) } };
    });
  }

  private upsertTag(trx: Db, packageId: number, name: string, versionId: number) {
    return trx
      .insertInto('package_tags')
      .values({ package_id: packageId, name, version_id: versionId, updated_at: nowIso() })
      .onConflict((oc) => oc.columns(['package_id', 'name']).doUpdateSet({ version_id: versionId, updated_at: nowIso() }))
      .execute();
  }

  /**
   * The protected-tag pattern (see protected_tags) that `tag` of the package matches, or null. A protected tag,
   * once set, neither moves to another version nor goes, unless an owner admin overrides explicitly.
   */
  async protectedPattern(trx: Db, packageId: number, tag: string, known?: { owner_id: number; type: string }): Promise<string | null> {
    const pkg = known ?? (await trx.selectFrom('packages').select(['owner_id', 'type']).where('id', '=', packageId).executeTakeFirst());
    if (!pkg) return null;
    const patterns = await trx.selectFrom('protected_tags').select('pattern').where('owner_id', '=', pkg.owner_id).where('type', '=', pkg.type).execute();
    return patterns.find((p) => globMatches(p.pattern, tag))?.pattern ?? null;
  }

  /**
   * Throws Forbidden when moving (`versionId` set) or removing (null) `tag` would change a protected tag that is set,
   * unless `override` and the actor administers the package's owner (recorded in the audit log then).
   */
  /** `pkg`: the package's owner and type when the caller has them (saves a lookup on every publish). */
  private async guardTag(trx: Db, packageId: number, tag: string, versionId: number | null, actor: Actor, override: boolean, pkg?: { owner_id: number; type: string }): Promise<void> {
    const current = await trx.selectFrom('package_tags').select('version_id').where('package_id', '=', packageId).where('name', '=', tag).executeTakeFirst();
    if (!current || current.version_id === versionId) return;
    const pattern = await this.protectedPattern(trx, packageId, tag, pkg);
    if (!pattern) return;
    const what = versionId === null ? 'removed' : 'moved';
    if (!override) throw forbidden(`tag ${tag} is protected (pattern ${pattern}): it cannot be ${what}; an owner admin may override`);
    const owner = await trx.selectFrom('packages').innerJoin('owners', 'owners.id', 'packages.owner_id').select(['owners.id', 'owners.kind', 'owners.name']).where('packages.id', '=', packageId).executeTakeFirstOrThrow();
    await this.authz.manage(actor, { what: 'owner', owner: { id: owner.id, kind: owner.kind as 'user' | 'org', name: owner.name } });
    await this.audited(trx, 'tag.protection_override', packageId, actor, { details: { tag, pattern, change: what } });
  }

  /**
   * Checks, before content is stored, that pointing `tag` at the version named `version` is allowed (an OCI push
   * over a protected tag is refused before its manifest is written). setTag checks again in its transaction.
   */
  async checkTagMove(packageId: number, tag: string, version: string, actor: Actor): Promise<void> {
    const v = await this.db.selectFrom('package_versions').select('id').where('package_id', '=', packageId).where('lower_version', '=', version.toLowerCase()).executeTakeFirst();
    await this.guardTag(this.db, packageId, tag, v?.id ?? -1, actor, false);
  }

  /** Points a tag at a live version of the package (`override`: move a protected tag, as an owner admin). */
  async setTag(packageId: number, tag: string, version: string, actor: Actor, opts: { override?: boolean } = {}): Promise<void> {
    await this.allow(actor, 'write', packageId);
    checkTagName(tag);
    await this.change(async (trx) => {
      const v = await trx.selectFrom('package_versions').select('id').where('package_id', '=', packageId).where('lower_version', '=', version.toLowerCase()).where('deleted_at', 'is', null).executeTakeFirst();
      if (!v) throw notFound(`version ${version} not found`);
      await this.guardTag(trx, packageId, tag, v.id, actor, !!opts.override);
      await this.upsertTag(trx, packageId, tag, v.id);
      await this.bump(trx, packageId);
      return { result: undefined, event: { type: 'tag.set', packageId, tag, actor: actorName(actor) } };
    });
  }

  async removeTag(packageId: number, tag: string, actor: Actor, opts: { override?: boolean } = {}): Promise<void> {
    await this.allow(actor, 'write', packageId);
    await this.change(async (trx) => {
      await this.guardTag(trx, packageId, tag, null, actor, !!opts.override);
      const res = await trx.deleteFrom('package_tags').where('package_id', '=', packageId).where('name', '=', tag).executeTakeFirst();
      if (!Number(res.numDeletedRows)) throw notFound(`tag ${tag} not found`);
      await this.bump(trx, packageId);
      return { result: undefined, event: { type: 'tag.removed', packageId, tag, actor: actorName(actor) } };
    });
  }

  /** Replaces a version's format metadata (e.g. npm deprecate); the version's content never changes. */
  async updateVersionMetadata(packageId: number, versionId: number, metadata: unknown, actor: Actor): Promise<void> {
    await this.allow(actor, 'write', packageId);
    await this.change(async (trx) => {
      await trx.updateTable('package_versions').set({ metadata: JSON.stringify(metadata), updated_at: nowIso() }).where('id', '=', versionId).execute();
      await this.bump(trx, packageId);
      return { result: undefined, event: { type: 'version.updated', packageId, versionId, actor: actorName(actor) } };
    });
  }

  /**
   * Soft-deletes a version: it stops installing at once and can be restored for `restoreDays`. A version a
   * protected tag points at stays (an owner admin moves or removes the tag first, with an explicit override).
   */
  async deleteVersion(packageId: number, versionId: number, actor: Actor): Promise<void> {
    await this.allow(actor, 'delete', packageId);
    await this.change(async (trx) => {
      for (const t of await trx.selectFrom('package_tags').select('name').where('package_id', '=', packageId).where('version_id', '=', versionId).execute()) {
        await this.guardTag(trx, packageId, t.name, null, actor, false);
      }
      const r = await trx.updateTable('package_versions').set({ deleted_at: nowIso() }).where('id', '=', versionId).where('package_id', '=', packageId).where('deleted_at', 'is', null).executeTakeFirst();
      if (!Number(r.numUpdatedRows)) throw notFound('version not found');
      await this.usage.applyVersion(trx, versionId, -1);
      await this.bump(trx, packageId);
      await this.audited(trx, 'package_version.delete', packageId, actor, { version: await this.versionName(trx, versionId) });
      return { result: undefined, event: { type: 'version.deleted', packageId, versionId, actor: actorName(actor) } };
    });
  }

  /**
   * Soft-deletes several versions of a package in one transaction (retention): each as deleteVersion would — its
   * protected tags checked, its own audit entry and `version.deleted` event — with one revision check for all
   * (`expectRevision`: the package must be as it was planned) and one wait for durability.
   */
  async deleteVersions(packageId: number, items: { versionId: number; withVersion?: number; details?: Record<string, unknown> }[], actor: Actor, opts: { expectRevision?: number } = {}): Promise<void> {
    await this.allow(actor, 'delete', packageId);
    const events: PackageEvent[] = [];
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      if (opts.expectRevision !== undefined) {
        const r = await trx.updateTable('packages').set({ revision: opts.expectRevision + 1, updated_at: nowIso() }).where('id', '=', packageId).where('revision', '=', opts.expectRevision).executeTakeFirst();
        if (!Number(r.numUpdatedRows)) throw conflict('the package changed since this deletion was planned', 'ECHANGED');
      } else await this.bump(trx, packageId);
      const now = nowIso();
      const ids = items.map((it) => it.versionId);
      // Looked up once for the batch: the tags to check, the version names and the names the audit entries copy.
      const tagged = await trx.selectFrom('package_tags').select(['name', 'version_id']).where('package_id', '=', packageId).where('version_id', 'in', ids).execute();
      const names = new Map((await trx.selectFrom('package_versions').select(['id', 'version']).where('id', 'in', ids).execute()).map((v) => [v.id, v.version]));
      const p = await trx.selectFrom('packages').innerJoin('owners', 'owners.id', 'packages.owner_id').select(['packages.owner_id', 'packages.repository_id', 'packages.type', 'packages.name', 'owners.name as owner', 'owners.kind as owner_kind']).where('packages.id', '=', packageId).executeTakeFirstOrThrow();
      const repositoryName = await this.repoName(trx, p.repository_id);
      for (const tag of tagged) await this.guardTag(trx, packageId, tag.name, null, actor, false);
      const live = await trx.selectFrom('package_versions').select('id').where('package_id', '=', packageId).where('id', 'in', ids).where('deleted_at', 'is', null).execute();
      if (live.length !== new Set(ids).size) throw notFound('version not found');
      await trx.updateTable('package_versions').set({ deleted_at: now }).where('id', 'in', ids).execute();
      for (const id of new Set(ids)) await this.usage.applyVersion(trx, id, -1);
      const along = new Map<number, number[]>();
      for (const it of items) if (it.withVersion !== undefined) along.set(it.withVersion, [...(along.get(it.withVersion) ?? []), it.versionId]);
      for (const [w, vs] of along) await trx.updateTable('package_versions').set({ deleted_with: w }).where('id', 'in', vs).execute();
      await this.audit.recordMany(trx, items.map((it) => {
        const version = names.get(it.versionId)!;
        return {
          action: 'package_version.delete' as const, actor, ownerId: p.owner_id, owner: { name: p.owner, kind: p.owner_kind as 'user' | 'org' }, repositoryId: p.repository_id, repositoryName, packageId,
          target: `${p.type}/${p.name} ${version}`, details: { package_type: p.type, package: p.name, version, ...it.details },
        };
      }));
      for (const it of items) {
        const e: PackageEvent = { type: 'version.deleted', packageId, versionId: it.versionId, actor: actorName(actor) };
        await this.events.record(trx, e);
        events.push(e);
      }
    });
    await this.durable();
    for (const e of events) this.events.emit(e);
  }

  /** Restores a deleted version; `anyAge` ignores the restore window (a client pushing the same content again). */
  async restoreVersion(packageId: number, versionId: number, actor: Actor, anyAge = false): Promise<void> {
    await this.allow(actor, anyAge ? 'write' : 'delete', packageId);
    const cutoff = anyAge ? '' : nowIso(Date.now() - this.restoreDays * 864e5);
    await this.change(async (trx) => {
      const r = await trx.updateTable('package_versions').set({ deleted_at: null, deleted_with: null }).where('id', '=', versionId).where('package_id', '=', packageId).where('deleted_at', '>=', cutoff).executeTakeFirst();
      if (!Number(r.numUpdatedRows)) throw notFound(`no deleted version restorable within ${this.restoreDays} days`);
      const back = await this.usage.versionFiles(trx, versionId);
      if (back) {
        await this.usage.check(back.ownerId, { bytes: await this.usage.newBytes(trx, back.ownerId, back.files) }, trx);
        await this.usage.apply(trx, back.ownerId, back.packageId, back.files, 1, 1);
      }
      await this.bump(trx, packageId);
      await this.audited(trx, 'package_version.restore', packageId, actor, { version: await this.versionName(trx, versionId) });
      // What went with it (its referrers, an index's platform manifests, and theirs) comes back with it.
      let frontier = [versionId];
      while (frontier.length) {
        const along = await trx.selectFrom('package_versions').select(['id', 'version']).where('package_id', '=', packageId).where('deleted_with', 'in', frontier).where('deleted_at', 'is not', null).execute();
        for (const a of along) {
          await trx.updateTable('package_versions').set({ deleted_at: null, deleted_with: null }).where('id', '=', a.id).execute();
          const with_ = await this.usage.versionFiles(trx, a.id);
          if (with_) {
            await this.usage.check(with_.ownerId, { bytes: await this.usage.newBytes(trx, with_.ownerId, with_.files) }, trx);
            await this.usage.apply(trx, with_.ownerId, with_.packageId, with_.files, 1, 1);
          }
          await this.audited(trx, 'package_version.restore', packageId, actor, { version: a.version, details: { restored_with: await this.versionName(trx, versionId) } });
          await this.events.record(trx, { type: 'version.restored', packageId, versionId: a.id, actor: actorName(actor) });
        }
        frontier = along.map((a) => a.id);
      }
      return { result: undefined, event: { type: 'version.restored', packageId, versionId, actor: actorName(actor) } };
    });
  }

  /**
   * Soft-deletes a package with all its versions (restorable for `restoreDays`). Like deleting a version, it is
   * refused while a protected tag is set on it: an owner admin removes that tag first, with an explicit override.
   */
  async deletePackage(packageId: number, actor: Actor): Promise<void> {
    await this.allow(actor, 'delete', packageId);
    await this.change(async (trx) => {
      for (const t of await trx.selectFrom('package_tags').select('name').where('package_id', '=', packageId).execute()) {
        await this.guardTag(trx, packageId, t.name, null, actor, false);
      }
      const r = await trx.updateTable('packages').set((eb) => ({ deleted_at: nowIso(), revision: eb('revision', '+', 1) })).where('id', '=', packageId).where('deleted_at', 'is', null).executeTakeFirst();
      if (!Number(r.numUpdatedRows)) throw notFound('package not found');
      const p = await trx.selectFrom('packages').select('owner_id').where('id', '=', packageId).executeTakeFirstOrThrow();
      await this.usage.removeWholePackage(trx, p.owner_id, packageId);
      await this.audited(trx, 'package.delete', packageId, actor);
      return { result: undefined, event: { type: 'package.deleted', packageId, actor: actorName(actor) } };
    });
  }

  async restorePackage(packageId: number, actor: Actor): Promise<void> {
    await this.allow(actor, 'delete', packageId);
    const cutoff = nowIso(Date.now() - this.restoreDays * 864e5);
    await this.change(async (trx) => {
      const r = await trx.updateTable('packages').set((eb) => ({ deleted_at: null, revision: eb('revision', '+', 1) })).where('id', '=', packageId).where('deleted_at', '>=', cutoff).executeTakeFirst();
      if (!Number(r.numUpdatedRows)) throw notFound(`no deleted package restorable within ${this.restoreDays} days`);
      const p = await trx.selectFrom('packages').select('owner_id').where('id', '=', packageId).executeTakeFirstOrThrow();
      await this.usage.addWholePackage(trx, p.owner_id, packageId);
      await this.audited(trx, 'package.restore', packageId, actor);
      return { result: undefined, event: { type: 'package.restored', packageId, actor: actorName(actor) } };
    });
  }

  /** Changes visibility, linked repository and/or access inheritance. */
  async updateSettings(packageId: number, s: { visibility?: Visibility; repositoryId?: number | null; inheritAccess?: boolean }, actor: Actor): Promise<void> {
    await this.allow(actor, 'admin', packageId);
    await this.applySettings(packageId, s, actor);
  }

  /**
   * Links a package that has no live version yet to the repository its first version names, as createVersion does
   * for a new package (an image's source label, a job's first image): part of publishing, so write suffices.
   * Refused once the package has a live version: from then on only its admins change the link.
   */
  async linkBeforeFirstVersion(packageId: number, s: { repositoryId?: number; inheritAccess?: true }, actor: Actor): Promise<void> {
    await this.allow(actor, 'write', packageId);
    const live = await this.db.selectFrom('package_versions').select('id').where('package_id', '=', packageId).where('deleted_at', 'is', null).limit(1).executeTakeFirst();
    if (live) throw conflict('the package has versions already: its repository link is changed in its settings');
    await this.applySettings(packageId, s, actor);
  }

  private async applySettings(packageId: number, s: { visibility?: Visibility; repositoryId?: number | null; inheritAccess?: boolean }, actor: Actor): Promise<void> {
    const set: Record<string, unknown> = { revision: sql`revision + 1`, updated_at: nowIso() };
    if (s.visibility !== undefined) set.visibility = s.visibility;
    if (s.repositoryId !== undefined) set.repository_id = s.repositoryId;
    if (s.inheritAccess !== undefined) set.inherit_access = s.inheritAccess ? 1 : 0;
    await this.change(async (trx) => {
      const old = await trx.selectFrom('packages').innerJoin('owners', 'owners.id', 'packages.owner_id')
        .select(['packages.visibility', 'packages.repository_id', 'packages.inherit_access', 'packages.type', 'packages.name', 'owners.name as owner'])
        .where('packages.id', '=', packageId).executeTakeFirst();
      if (old && s.visibility !== undefined) {
        // A package that inherits takes its repository's visibility: its own is not used, so setting it would claim a
        // change that does not happen. The same visibility as the repository's is a no-op (a client echoing a GET).
        const repositoryId = s.repositoryId !== undefined ? s.repositoryId : old.repository_id;
        const inherits = (s.inheritAccess !== undefined ? s.inheritAccess : old.inherit_access === 1) && repositoryId != null;
        if (inherits) {
          const repo = await trx.selectFrom('repositories').innerJoin('owners', 'owners.id', 'repositories.owner_id')
            .select(['repositories.visibility', 'repositories.name', 'owners.name as owner']).where('repositories.id', '=', repositoryId).executeTakeFirstOrThrow();
          if (repo.visibility !== s.visibility) {
            throw conflict(`${old.type} package ${old.owner}/${old.name} inherits its visibility from the repository ${repo.owner}/${repo.name} (${repo.visibility}): change the repository's visibility, or stop inheriting access first`, 'inherits_visibility');
          }
          delete set.visibility;
        }
      }
      await trx.updateTable('packages').set(set).where('id', '=', packageId).execute();
      // Only what changed is recorded: a client re-linking a package to the same repository on every push is no event.
      if (old && set.visibility !== undefined && s.visibility !== old.visibility) {
        await this.audited(trx, 'package.visibility', packageId, actor, { details: { previous_visibility: old.visibility, visibility: s.visibility } });
      }
      const relinked = s.repositoryId !== undefined && s.repositoryId !== old?.repository_id;
      const inherit = s.inheritAccess !== undefined && (s.inheritAccess ? 1 : 0) !== old?.inherit_access;
      if (old && (relinked || inherit)) {
        const name = (id: number | null) => this.repoName(trx, id);
        await this.audited(trx, 'package.settings', packageId, actor, {
          details: {
            ...(relinked ? { previous_repository: await name(old.repository_id), repository: await name(s.repositoryId ?? null) } : {}),
            ...(inherit ? { previous_inherit_access: old.inherit_access === 1, inherit_access: !!s.inheritAccess } : {}),
          },
        });
      }
      return { result: undefined, event: { type: 'package.updated', packageId, actor: actorName(actor) } };
    });
  }

  /** Grants a user or a repository a role on a package (replacing an earlier grant). */
  async grant(packageId: number, who: { userId: number } | { repositoryId: number }, role: Role, actor: Actor): Promise<void> {
    await this.allow(actor, 'admin', packageId);
    const user_id = 'userId' in who ? who.userId : null;
    const repository_id = 'repositoryId' in who ? who.repositoryId : null;
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      let q = trx.deleteFrom('package_access').where('package_id', '=', packageId);
      q = user_id != null ? q.where('user_id', '=', user_id) : q.where('repository_id', '=', repository_id);
      const replaced = await q.returning('role').executeTakeFirst();
      await trx.insertInto('package_access').values({ package_id: packageId, user_id, repository_id, role }).execute();
      await this.audited(trx, 'package.access_grant', packageId, actor, { userId: user_id, details: { ...(await this.granteeOf(trx, who)), role, ...(replaced ? { previous_role: replaced.role } : {}) } });
    });
    await this.durable();
  }

  /** Removes a user's or repository's role on a package. */
  async revoke(packageId: number, who: { userId: number } | { repositoryId: number }, actor: Actor): Promise<void> {
    await this.allow(actor, 'admin', packageId);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      let q = trx.deleteFrom('package_access').where('package_id', '=', packageId);
      q = 'userId' in who ? q.where('user_id', '=', who.userId) : q.where('repository_id', '=', who.repositoryId);
      const r = await q.returning('role').executeTakeFirst();
      if (!r) throw notFound('no such grant');
      await this.audited(trx, 'package.access_revoke', packageId, actor, { userId: 'userId' in who ? who.userId : null, details: { ...(await this.granteeOf(trx, who)), previous_role: r.role } });
    });
    await this.durable();
  }

  /** `{ user: NAME }` or `{ repository: OWNER/NAME }`, for the audit entry of a grant. */
  private async granteeOf(trx: Db, who: { userId: number } | { repositoryId: number }): Promise<Record<string, string | null>> {
    if ('userId' in who) return { user: (await trx.selectFrom('owners').select('name').where('id', '=', who.userId).executeTakeFirst())?.name ?? null };
    return { repository: await this.repoName(trx, who.repositoryId) };
  }

  /** A repository's `OWNER/NAME` (null for none). */
  private async repoName(trx: Db, id: number | null): Promise<string | null> {
    if (id == null) return null;
    const r = await trx.selectFrom('repositories').innerJoin('owners', 'owners.id', 'repositories.owner_id').select(['owners.name as owner', 'repositories.name as name']).where('repositories.id', '=', id).executeTakeFirst();
    return r ? `${r.owner}/${r.name}` : null;
  }
}

/** Does a tag match a protected-tag pattern (`*` any run of characters, `?` one; case-sensitive, whole tag)? */
export function globMatches(pattern: string, tag: string): boolean {
  const re = pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${re}$`).test(tag);
}

/**
 * Checks a tag name, whatever sets it (a format's route, the REST API, the CLI): letters, digits, '.', '_', '-', at
 * most 128, not starting with '.' or '-' (OCI's tag grammar; npm's dist-tags, checked by its routes, are a subset).
 */
export function checkTagName(tag: string): string {
  if (typeof tag !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) throw invalid(`invalid tag name "${String(tag).slice(0, 200)}": use letters, digits, '.', '_' and '-' (at most 128)`);
  return tag;
}
