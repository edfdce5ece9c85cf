// Storage usage and quotas. The figures are kept by the publish verbs (publish.ts), in each change's transaction, so
// reading them is one row and they can never lag behind what is visible. What counts (the same rules as
// usage-recount.ts, which rebuilds them from scratch): the files of live versions of live packages. A blob counts
// once per package however many of its versions name it, and once per owner however many of its packages do (a
// layer shared by ten images counts once). Across owners each owner counts what it references: a blob two
// organizations both hold is in both their figures (each would need it if the other deleted theirs).
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Actor } from './auth/actor.ts';
import type { Authorizer } from './auth/authorize.ts';
import { notFound, WharfError } from './errors.ts';

/** A file as usage sees it. */
export interface CountedFile {
  digest: string;
  size: number;
}

/** The instance's default limits (WHARF_QUOTA_STORAGE, WHARF_QUOTA_PACKAGES); null is unlimited. */
export interface QuotaDefaults {
  storageBytes: number | null;
  packages: number | null;
}

export interface OwnerUsage {
  bytes: number;
  packages: number;
  versions: number;
}

export interface Quota {
  storageBytes: number | null;
  packages: number | null;
  /** Whether a site admin set this owner's limits (else they are the instance's defaults). */
  override: boolean;
}

/** What a change would add to an owner: bytes it does not hold yet, and whether it creates a package. */
export interface Adding {
  bytes?: number;
  packages?: number;
}

/** `10GiB`, `500 MB`, `1024` (bytes) → bytes; binary and decimal units; undefined when not a size. */
export function parseSize(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?\s*$/i.exec(s);
  if (!m) return undefined;
  const exp = ' kmgtp'.indexOf(m[2]!.toLowerCase() || ' ');
  const base = m[3] || !m[2] ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** exp);
}

/** Bytes for people: `1.5 GiB`. */
export function formatSize(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v >= 100 ? Math.round(v) : Number(v.toFixed(1))} ${units[i]}`;
}

/** The error every format answers a quota refusal with (OCI: DENIED 403; the others: 413 with this message). */
export function quotaExceeded(message: string): WharfError {
  return new WharfError('TooLarge', message, 'QUOTA_EXCEEDED');
}

/** What an owner's managers see: its figures, its limits, and each package's figures. */
export interface UsageReport {
  owner: { id: number; name: string; kind: string };
  usage: OwnerUsage & { downloads: number };
  quota: Quota;
  packages: { packageId: number; type: string; name: string; bytes: number; versions: number; downloads: number }[];
}

export class Usage {
  constructor(
    private readonly db: Db,
    private readonly defaults: QuotaDefaults = { storageBytes: null, packages: null },
    private readonly authz?: Authorizer,
  ) {}

  private async ownerNamed(name: string) {
    const o = await this.db.selectFrom('owners').select(['id', 'name', 'kind']).where('lower_name', '=', name.toLowerCase()).executeTakeFirst();
    if (!o) throw notFound(`no user or organization named "${name}"`);
    return o;
  }

  /** An owner's usage and quota, for those who manage the owner (its user, an org's owners, site admins). */
  async report(actor: Actor, ownerName: string): Promise<UsageReport> {
    const owner = await this.ownerNamed(ownerName);
    if (!this.authz) throw new Error('usage reports need the authorizer');
    await this.authz.manage(actor, { what: 'owner', owner });
    const packages = await this.packages(owner.id);
    // Flushed download counts, summed per package through the (version, day) rows.
    const dl = await this.db.selectFrom('downloads').innerJoin('package_versions', 'package_versions.id', 'downloads.version_id').innerJoin('packages', 'packages.id', 'package_versions.package_id')
      .select(['packages.id', sql<number>`sum(downloads.count)`.as('n')]).where('packages.owner_id', '=', owner.id).groupBy('packages.id').execute();
    const byPkg = new Map(dl.map((r) => [r.id, Number(r.n)]));
    const rows = packages.map((p) => ({ ...p, downloads: byPkg.get(p.packageId) ?? 0 }));
    return { owner, usage: { ...(await this.owner(owner.id)), downloads: rows.reduce((a, p) => a + p.downloads, 0) }, quota: await this.quota(owner.id), packages: rows };
  }

  /** Sets an owner's quota override: site admins only. */
  async setQuotaAs(actor: Actor, ownerName: string, q: { storageBytes?: number | null; packages?: number | null }): Promise<Quota> {
    if (!this.authz) throw new Error('quotas need the authorizer');
    await this.authz.manage(actor, { what: 'site' });
    const owner = await this.ownerNamed(ownerName);
    for (const v of [q.storageBytes, q.packages]) if (v != null && (!Number.isSafeInteger(v) || v < 0)) throw new WharfError('Invalid', 'a quota is a whole number of bytes or packages, 0 or more');
    return this.setQuota(owner.id, q);
  }

  /** An owner's figures (zero for one that never published). */
  async owner(ownerId: number, db: Db = this.db): Promise<OwnerUsage> {
    const r = await db.selectFrom('usage_owners').select(['bytes', 'packages', 'versions']).where('owner_id', '=', ownerId).executeTakeFirst();
    return { bytes: Number(r?.bytes ?? 0), packages: Number(r?.packages ?? 0), versions: Number(r?.versions ?? 0) };
  }

  /** Per package figures of an owner's live packages, largest first. */
  async packages(ownerId: number): Promise<{ packageId: number; type: string; name: string; bytes: number; versions: number }[]> {
    const rows = await this.db.selectFrom('usage_packages').innerJoin('packages', 'packages.id', 'usage_packages.package_id')
      .select(['packages.id', 'packages.type', 'packages.name', 'usage_packages.bytes', 'usage_packages.versions'])
      .where('usage_packages.owner_id', '=', ownerId).where('packages.deleted_at', 'is', null)
      .orderBy('usage_packages.bytes', 'desc').orderBy('packages.type').orderBy('packages.name').execute();
    return rows.map((r) => ({ packageId: r.id, type: r.type, name: r.name, bytes: Number(r.bytes), versions: Number(r.versions) }));
  }

  /** An owner's limits: the site admin's override where set, else the instance's defaults. */
  async quota(ownerId: number, db: Db = this.db): Promise<Quota> {
    const r = await db.selectFrom('quotas').select(['storage_bytes', 'packages']).where('owner_id', '=', ownerId).executeTakeFirst();
    return {
      storageBytes: r && r.storage_bytes != null ? Number(r.storage_bytes) : this.defaults.storageBytes,
      packages: r && r.packages != null ? Number(r.packages) : this.defaults.packages,
      override: !!r,
    };
  }

  /** Sets (a number), clears to the default (null) or leaves (undefined) each of an owner's limits. Site admins only: callers decide. */
  async setQuota(ownerId: number, q: { storageBytes?: number | null; packages?: number | null }): Promise<Quota> {
    const old = await this.db.selectFrom('quotas').selectAll().where('owner_id', '=', ownerId).executeTakeFirst();
    const storage_bytes = q.storageBytes !== undefined ? q.storageBytes : (old?.storage_bytes ?? null);
    const packages = q.packages !== undefined ? q.packages : (old?.packages ?? null);
    if (storage_bytes == null && packages == null) await this.db.deleteFrom('quotas').where('owner_id', '=', ownerId).execute();
    else {
      await this.db.insertInto('quotas').values({ owner_id: ownerId, storage_bytes, packages, updated_at: new Date().toISOString() })
        .onConflict((oc) => oc.column('owner_id').doUpdateSet({ storage_bytes, packages, updated_at: new Date().toISOString() })).execute();
    }
    return this.quota(ownerId);
  }

  /**
   * The quota decision, for every publish verb and every format's early check (a declared Content-Length): throws
   * QUOTA_EXCEEDED when adding `adding` would take the owner over a limit. Nothing added never fails (an owner over
   * a lowered quota can still delete, tag, and read). Proxy owners are never refused: their writes are reads.
   */
  async check(ownerId: number, adding: Adding, db: Db = this.db, usedBytes?: number): Promise<void> {
    const bytes = adding.bytes ?? 0;
    const pkgs = adding.packages ?? 0;
    if (bytes <= 0 && pkgs <= 0) return;
    const q = await this.quota(ownerId, db);
    if (q.storageBytes == null && q.packages == null) return;
    const u = await this.owner(ownerId, db);
    if (usedBytes !== undefined) u.bytes = usedBytes;
    const overStorage = bytes > 0 && q.storageBytes != null && u.bytes + bytes > q.storageBytes;
    const overPackages = pkgs > 0 && q.packages != null && u.packages + pkgs > q.packages;
    if (!overStorage && !overPackages) return;
    if (await db.selectFrom('proxies').select('owner_id').where('owner_id', '=', ownerId).executeTakeFirst()) return;
    const owner = (await db.selectFrom('owners').select('name').where('id', '=', ownerId).executeTakeFirst())?.name ?? String(ownerId);
    if (overStorage) {
      throw quotaExceeded(`storage quota exceeded for ${owner}: ${formatSize(u.bytes)} used of ${formatSize(q.storageBytes!)}, and this upload adds ${formatSize(bytes)}`);
    }
    throw quotaExceeded(`package quota exceeded for ${owner}: ${u.packages} packages of ${q.packages} allowed`);
  }

  /**
   * After a change that both added and removed files (a SNAPSHOT file deployed again replaces the old one), in its
   * transaction: refused as check() refuses only when the owner's bytes grew past `before` and over the quota. A
   * replacement that frees what it adds passes, however full the owner is.
   */
  async checkGrowth(trx: Db, ownerId: number, before: number): Promise<void> {
    const after = (await this.owner(ownerId, trx)).bytes;
    if (after > before) await this.check(ownerId, { bytes: after - before }, trx, before);
  }

  /**
   * Bytes the owner may still add under its storage quota, for a body whose size is not declared (a streamed
   * upload is cut off there); null when nothing limits it (no storage quota, or a proxy owner).
   */
  async headroom(ownerId: number): Promise<number | null> {
    const q = await this.quota(ownerId);
    if (q.storageBytes == null) return null;
    if (await this.db.selectFrom('proxies').select('owner_id').where('owner_id', '=', ownerId).executeTakeFirst()) return null;
    return Math.max(0, q.storageBytes - (await this.owner(ownerId)).bytes);
  }

  /** Bytes of `files` the owner does not hold yet (what publishing them adds to its usage). */
  async newBytes(trx: Db, ownerId: number, files: CountedFile[]): Promise<number> {
    const sizes = new Map(files.map((f) => [f.digest, Number(f.size)]));
    if (!sizes.size) return 0;
    const held = await trx.selectFrom('usage_owner_blobs').select('digest').where('owner_id', '=', ownerId).where('digest', 'in', [...sizes.keys()]).execute();
    for (const h of held) sizes.delete(h.digest);
    let n = 0;
    for (const s of sizes.values()) n += s;
    return n;
  }

  /**
   * Adds (`sign` 1) or removes (-1) references from a package's live versions to `files`, and `versions` live
   * versions; a blob's bytes move only when the first reference appears or the last goes.
   */
  async apply(trx: Db, ownerId: number, packageId: number, files: CountedFile[], sign: 1 | -1, versions = 0): Promise<void> {
    const byDigest = new Map<string, { size: number; n: number }>();
    for (const f of files) {
      const e = byDigest.get(f.digest);
      if (e) e.n++;
      else byDigest.set(f.digest, { size: Number(f.size), n: 1 });
    }
    let pkgBytes = 0;
    let ownerBytes = 0;
    for (const [digest, { size, n }] of byDigest) {
      const pkgFirstOrLast = await this.bumpRef(trx, 'usage_package_blobs', { package_id: packageId, owner_id: ownerId }, ['package_id', 'digest'], digest, size, sign * n);
      if (!pkgFirstOrLast) continue;
      pkgBytes += sign * size;
      if (await this.bumpRef(trx, 'usage_owner_blobs', { owner_id: ownerId }, ['owner_id', 'digest'], digest, size, sign)) ownerBytes += sign * size;
    }
    await this.addPackage(trx, ownerId, packageId, pkgBytes, versions);
    await this.addOwner(trx, ownerId, { bytes: ownerBytes, versions });
  }

  /** Adds `delta` references to one blob; true when the blob went from none to some or from some to none. */
  private async bumpRef(trx: Db, table: 'usage_package_blobs' | 'usage_owner_blobs', key: Record<string, number>, pk: string[], digest: string, size: number, delta: number): Promise<boolean> {
    const t = trx as unknown as import('kysely').Kysely<any>;
    const row = await t.insertInto(table).values({ ...key, digest, size, refs: delta })
      .onConflict((oc) => oc.columns(pk).doUpdateSet({ refs: sql`${sql.ref(`${table}.refs`)} + ${delta}` }))
      .returning('refs').executeTakeFirstOrThrow();
    const refs = Number(row.refs);
    if (refs <= 0) {
      let q = t.deleteFrom(table).where('digest', '=', digest);
      for (const [k, v] of Object.entries(key)) if (pk.includes(k)) q = q.where(k, '=', v);
      await q.execute();
      return true;
    }
    return refs === delta;
  }

  private async addPackage(trx: Db, ownerId: number, packageId: number, bytes: number, versions: number): Promise<void> {
    await trx.insertInto('usage_packages').values({ package_id: packageId, owner_id: ownerId, bytes, versions })
      .onConflict((oc) => oc.column('package_id').doUpdateSet({ bytes: sql`usage_packages.bytes + ${bytes}`, versions: sql`usage_packages.versions + ${versions}` }))
      .execute();
  }

  /** Moves an owner's totals. */
  async addOwner(trx: Db, ownerId: number, d: { bytes?: number; packages?: number; versions?: number }): Promise<void> {
    const bytes = d.bytes ?? 0;
    const packages = d.packages ?? 0;
    const versions = d.versions ?? 0;
    if (!bytes && !packages && !versions) return;
    await trx.insertInto('usage_owners').values({ owner_id: ownerId, bytes, packages, versions })
      .onConflict((oc) => oc.column('owner_id').doUpdateSet({
        bytes: sql`usage_owners.bytes + ${bytes}`, packages: sql`usage_owners.packages + ${packages}`, versions: sql`usage_owners.versions + ${versions}`,
      }))
      .execute();
  }

  /** The live files of a version, when its package is live (else it holds nothing). */
  async versionFiles(trx: Db, versionId: number): Promise<{ ownerId: number; packageId: number; files: CountedFile[] } | undefined> {
    const v = await trx.selectFrom('package_versions').innerJoin('packages', 'packages.id', 'package_versions.package_id')
      .select(['packages.id', 'packages.owner_id', 'packages.deleted_at']).where('package_versions.id', '=', versionId).executeTakeFirst();
    if (!v || v.deleted_at) return undefined;
    const files = await trx.selectFrom('package_files').select(['blob_digest as digest', 'size']).where('version_id', '=', versionId).execute();
    return { ownerId: v.owner_id, packageId: v.id, files };
  }

  /** Files about to be removed from a version for good (a Maven upload that failed its checksum, old SNAPSHOT builds). */
  async removeFiles(trx: Db, fileIds: number[], dropsVersion = false): Promise<void> {
    if (!fileIds.length) return;
    const rows = await trx.selectFrom('package_files').innerJoin('package_versions', 'package_versions.id', 'package_files.version_id').innerJoin('packages', 'packages.id', 'package_versions.package_id')
      .select(['packages.id as packageId', 'packages.owner_id as ownerId', 'package_files.blob_digest as digest', 'package_files.size'])
      .where('package_files.id', 'in', fileIds).where('package_versions.deleted_at', 'is', null).where('packages.deleted_at', 'is', null).execute();
    if (!rows.length) return;
    await this.apply(trx, rows[0]!.ownerId, rows[0]!.packageId, rows, -1, dropsVersion ? -1 : 0);
  }

  /** A version appears (restored) or goes (deleted): its files and itself, counted or not. */
  async applyVersion(trx: Db, versionId: number, sign: 1 | -1): Promise<void> {
    const v = await this.versionFiles(trx, versionId);
    if (v) await this.apply(trx, v.ownerId, v.packageId, v.files, sign, sign);
  }

  /** A package is created or revived (with no live version): it counts towards the owner's packages. */
  async packageAppears(trx: Db, ownerId: number, packageId: number): Promise<void> {
    await this.addPackage(trx, ownerId, packageId, 0, 0);
    await this.addOwner(trx, ownerId, { packages: 1 });
  }

  /** A live package whose live versions are not counted (restored): counts them, and the package, within the quota. */
  async addWholePackage(trx: Db, ownerId: number, packageId: number): Promise<void> {
    const files = await trx.selectFrom('package_files').innerJoin('package_versions', 'package_versions.id', 'package_files.version_id')
      .select(['package_files.blob_digest as digest', 'package_files.size']).where('package_versions.package_id', '=', packageId).where('package_versions.deleted_at', 'is', null).execute();
    const n = await trx.selectFrom('package_versions').select((eb) => eb.fn.countAll<number>().as('n')).where('package_id', '=', packageId).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
    await this.check(ownerId, { packages: 1, bytes: await this.newBytes(trx, ownerId, files) }, trx);
    await this.apply(trx, ownerId, packageId, files, 1, Number(n.n));
    await this.addOwner(trx, ownerId, { packages: 1 });
  }

  /** A package goes (deleted): whatever it held stops counting. */
  async removeWholePackage(trx: Db, ownerId: number, packageId: number): Promise<void> {
    const blobs = await trx.selectFrom('usage_package_blobs').select(['digest', 'size']).where('package_id', '=', packageId).execute();
    let ownerBytes = 0;
    for (const b of blobs) if (await this.bumpRef(trx, 'usage_owner_blobs', { owner_id: ownerId }, ['owner_id', 'digest'], b.digest, Number(b.size), -1)) ownerBytes -= Number(b.size);
    await trx.deleteFrom('usage_package_blobs').where('package_id', '=', packageId).execute();
    const p = await trx.deleteFrom('usage_packages').where('package_id', '=', packageId).returning('versions').executeTakeFirst();
    await this.addOwner(trx, ownerId, { bytes: ownerBytes, packages: -1, versions: -Number(p?.versions ?? 0) });
  }
}
