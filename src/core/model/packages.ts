// Queries over the generic package model: packages, versions, files, tags, access grants, downloads.
import { sql } from 'kysely';
import { GenerationCache, type ChangeGeneration } from '../../db/changes.ts';
import type { Db } from '../../db/database.ts';
import type { Package, PackageFile, PackageVersion, Role } from '../../db/tables.ts';

/** `proxied`: 1 when the owner is a pull-through proxy (core/proxy): the package is the upstream's, named as there. */
export type PackageRow = Package & { owner_name: string; owner_kind: 'user' | 'org'; proxied?: number };

export interface ListOptions {
  type?: string;
  includeDeleted?: boolean;
  limit: number;
  offset: number;
}

/** See Packages.listFacts. */
export interface ListFacts {
  versions: number;
  newest: string | null;
  tags: { name: string; version: string }[];
  wantedLive: boolean;
}

export type FileRow = NonNullable<Awaited<ReturnType<Packages['loadFile']>>>;

export class Packages {
  // Hot lookups (every download names a package and a file), cached for the current change generation. The
  // cached rows are frozen: callers copy before changing anything.
  private readonly found: GenerationCache<Readonly<PackageRow> | undefined>;
  private readonly foundFiles: GenerationCache<Readonly<FileRow> | undefined>;
  private readonly held: GenerationCache<{ size: number } | undefined>;

  constructor(private readonly db: Db, changes: ChangeGeneration) {
    this.found = new GenerationCache(changes, undefined, 'packages');
    this.foundFiles = new GenerationCache(changes, undefined, 'packages');
    this.held = new GenerationCache(changes, undefined, 'packages');
  }

  private base() {
    return this.db
      .selectFrom('packages')
      .innerJoin('owners', 'owners.id', 'packages.owner_id')
      .leftJoin('proxies', 'proxies.owner_id', 'packages.owner_id')
      .selectAll('packages')
      .select(['owners.name as owner_name', 'owners.kind as owner_kind'])
      .select(sql<number>`case when proxies.owner_id is null then 0 else 1 end`.as('proxied'));
  }

  /** A live package by owner name, type and name (case-insensitive), or undefined. */
  async find(ownerName: string, type: string, name: string, opts: { includeDeleted?: boolean } = {}): Promise<PackageRow | undefined> {
    const key = `${ownerName.toLowerCase()}\0${type}\0${name.toLowerCase()}\0${opts.includeDeleted ? 1 : 0}`;
    return this.found.get(key, async () => freeze(await this.loadPackage(ownerName, type, name, opts)));
  }

  private loadPackage(ownerName: string, type: string, name: string, opts: { includeDeleted?: boolean }): Promise<PackageRow | undefined> {
    let q = this.base().where('owners.lower_name', '=', ownerName.toLowerCase()).where('packages.type', '=', type).where('packages.lower_name', '=', name.toLowerCase());
    if (!opts.includeDeleted) q = q.where('packages.deleted_at', 'is', null);
    return q.executeTakeFirst();
  }

  async byId(id: number): Promise<PackageRow | undefined> {
    return this.base().where('packages.id', '=', id).executeTakeFirst();
  }

  /** Packages of one owner, newest first. */
  async listByOwner(ownerId: number, opts: ListOptions): Promise<PackageRow[]> {
    let q = this.base().where('packages.owner_id', '=', ownerId);
    if (opts.type) q = q.where('packages.type', '=', opts.type);
    if (!opts.includeDeleted) q = q.where('packages.deleted_at', 'is', null);
    return q.orderBy('packages.updated_at', 'desc').orderBy('packages.id', 'desc').limit(opts.limit).offset(opts.offset).execute();
  }

  /** Packages linked to a repository. */
  async listByRepository(repositoryId: number): Promise<PackageRow[]> {
    return this.base().where('packages.repository_id', '=', repositoryId).where('packages.deleted_at', 'is', null).orderBy('packages.lower_name').execute();
  }

  /** Live packages whose name or description matches `text`, for search (the caller filters by access). */
  async search(type: string | undefined, text: string, limit: number, offset: number): Promise<PackageRow[]> {
    const like = `%${text.toLowerCase().replace(/[%_\\]/g, (c) => '\\' + c)}%`;
    let q = this.base().where('packages.deleted_at', 'is', null);
    if (type) q = q.where('packages.type', '=', type);
    if (text) {
      q = q.where((eb) =>
        eb.or([
          eb(sql`lower('@' || owners.name || '/' || packages.name)`, 'like', sql`${like} escape '\\'`),
          eb(sql`lower(packages.metadata)`, 'like', sql`${like} escape '\\'`),
        ]),
      );
    }
    return q.orderBy('packages.updated_at', 'desc').limit(limit).offset(offset).execute();
  }

  async versions(packageId: number, opts: { includeDeleted?: boolean } = {}): Promise<PackageVersion[]> {
    let q = this.db.selectFrom('package_versions').selectAll().where('package_id', '=', packageId);
    if (!opts.includeDeleted) q = q.where('deleted_at', 'is', null);
    return q.orderBy('id').execute();
  }

  async version(packageId: number, version: string, opts: { includeDeleted?: boolean } = {}): Promise<PackageVersion | undefined> {
    let q = this.db.selectFrom('package_versions').selectAll().where('package_id', '=', packageId).where('lower_version', '=', version.toLowerCase());
    if (!opts.includeDeleted) q = q.where('deleted_at', 'is', null);
    return q.executeTakeFirst();
  }

  async versionById(id: number): Promise<PackageVersion | undefined> {
    return this.db.selectFrom('package_versions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async files(versionId: number): Promise<PackageFile[]> {
    return this.db.selectFrom('package_files').selectAll().where('version_id', '=', versionId).orderBy('id').execute();
  }

  /** A file of a live version, by version and file name; with the blob's extra digests. */
  async file(packageId: number, version: string, fileName: string): Promise<FileRow | undefined> {
    const key = `${packageId}\0${version.toLowerCase()}\0${fileName.toLowerCase()}`;
    return this.foundFiles.get(key, async () => freeze(await this.loadFile(packageId, version, fileName)));
  }

  private loadFile(packageId: number, version: string, fileName: string) {
    return this.db
      .selectFrom('package_files')
      .innerJoin('package_versions', 'package_versions.id', 'package_files.version_id')
      .innerJoin('blobs', 'blobs.digest', 'package_files.blob_digest')
      .select(['package_files.id', 'package_files.version_id', 'package_files.name', 'package_files.blob_digest', 'package_files.size', 'package_files.content_type', 'blobs.sha1', 'blobs.sha512'])
      .where('package_versions.package_id', '=', packageId)
      .where('package_versions.lower_version', '=', version.toLowerCase())
      .where('package_versions.deleted_at', 'is', null)
      .where('package_files.lower_name', '=', fileName.toLowerCase())
      .executeTakeFirst();
  }

  /** Every file of every live version of a package, with blob digests (one query for a whole document). */
  async allFiles(packageId: number) {
    return this.db
      .selectFrom('package_files')
      .innerJoin('package_versions', 'package_versions.id', 'package_files.version_id')
      .innerJoin('blobs', 'blobs.digest', 'package_files.blob_digest')
      .select(['package_files.version_id', 'package_files.name', 'package_files.size', 'package_files.blob_digest', 'package_files.is_primary', 'blobs.sha1', 'blobs.sha512'])
      .where('package_versions.package_id', '=', packageId)
      .where('package_versions.deleted_at', 'is', null)
      .execute();
  }

  /** Is the blob held by the package: attached to it, or a file of one of its live versions? Returns its size. */
  async heldBlob(packageId: number, digest: string): Promise<{ size: number } | undefined> {
    return this.held.get(`${packageId}\0${digest}`, () => this.loadHeldBlob(packageId, digest));
  }

  private async loadHeldBlob(packageId: number, digest: string): Promise<{ size: number } | undefined> {
    const attached = await this.db
      .selectFrom('package_properties')
      .innerJoin('blobs', 'blobs.digest', 'package_properties.value')
      .select('blobs.size')
      .where('package_properties.ref_type', '=', 'package')
      .where('package_properties.ref_id', '=', packageId)
      .where('package_properties.name', '=', 'blob')
      .where('package_properties.value', '=', digest)
      .executeTakeFirst();
    if (attached) return attached;
    return this.db
      .selectFrom('package_files')
      .innerJoin('package_versions', 'package_versions.id', 'package_files.version_id')
      .select('package_files.size')
      .where('package_versions.package_id', '=', packageId)
      .where('package_versions.deleted_at', 'is', null)
      .where('package_files.blob_digest', '=', digest)
      .limit(1)
      .executeTakeFirst();
  }

  /** The value of version property `name` on each of `versionIds` that has it (e.g. `published_via`). */
  async versionProperty(versionIds: number[], name: string): Promise<Map<number, string>> {
    if (!versionIds.length) return new Map();
    const rows = await this.db.selectFrom('package_properties').select(['ref_id', 'value']).where('ref_type', '=', 'version').where('name', '=', name).where('ref_id', 'in', versionIds).execute();
    return new Map(rows.map((r) => [r.ref_id, r.value]));
  }

  /** Live versions carrying a version property `name` = `value` (e.g. OCI manifests whose subject is a digest). */
  async versionsWithProperty(packageId: number, name: string, value: string): Promise<PackageVersion[]> {
    return this.db
      .selectFrom('package_versions')
      .innerJoin('package_properties', (j) => j.onRef('package_properties.ref_id', '=', 'package_versions.id').on('package_properties.ref_type', '=', 'version'))
      .selectAll('package_versions')
      .where('package_versions.package_id', '=', packageId)
      .where('package_versions.deleted_at', 'is', null)
      .where('package_properties.name', '=', name)
      .where('package_properties.value', '=', value)
      .orderBy('package_versions.id')
      .execute();
  }

  /** Live versions of an owner's live packages of `type` carrying a version property `name` = `value` (a symbol key). */
  async versionsWithPropertyUnder(ownerId: number, type: string, name: string, value: string): Promise<(PackageVersion & { package_id: number })[]> {
    return this.db
      .selectFrom('package_properties')
      .innerJoin('package_versions', 'package_versions.id', 'package_properties.ref_id')
      .innerJoin('packages', 'packages.id', 'package_versions.package_id')
      .selectAll('package_versions')
      .where('package_properties.ref_type', '=', 'version')
      .where('package_properties.name', '=', name)
      .where('package_properties.value', '=', value)
      .where('packages.owner_id', '=', ownerId)
      .where('packages.type', '=', type)
      .where('packages.deleted_at', 'is', null)
      .where('package_versions.deleted_at', 'is', null)
      .orderBy('package_versions.id')
      .execute();
  }

  /** Tags → live version strings. */
  async tags(packageId: number): Promise<{ name: string; version: string; version_id: number }[]> {
    return this.db
      .selectFrom('package_tags')
      .innerJoin('package_versions', 'package_versions.id', 'package_tags.version_id')
      .select(['package_tags.name', 'package_versions.version', 'package_tags.version_id'])
      .where('package_tags.package_id', '=', packageId)
      .where('package_versions.deleted_at', 'is', null)
      .orderBy('package_tags.name')
      .execute();
  }

  async access(packageId: number): Promise<{ user_id: number | null; user_name: string | null; repository_id: number | null; repository: string | null; role: Role }[]> {
    return this.db
      .selectFrom('package_access')
      .leftJoin('owners', 'owners.id', 'package_access.user_id')
      .leftJoin('repositories', 'repositories.id', 'package_access.repository_id')
      .leftJoin('owners as ro', 'ro.id', 'repositories.owner_id')
      .select(['package_access.user_id', 'owners.name as user_name', 'package_access.repository_id', sql<string | null>`ro.name || '/' || repositories.name`.as('repository'), 'package_access.role'])
      .where('package_access.package_id', '=', packageId)
      .execute();
  }

  /** Download counts per version id (flushed counts; the in-memory buffer is added by the caller). */
  async downloadsByVersion(packageId: number): Promise<Map<number, number>> {
    const rows = await this.db
      .selectFrom('downloads')
      .innerJoin('package_versions', 'package_versions.id', 'downloads.version_id')
      .select(['downloads.version_id', sql<number>`sum(downloads.count)`.as('n')])
      .where('package_versions.package_id', '=', packageId)
      .groupBy('downloads.version_id')
      .execute();
    return new Map(rows.map((r) => [r.version_id, Number(r.n)]));
  }

  /** Total flushed downloads per package id, for the given packages (one query; for sorting search results). */
  async downloadTotals(packageIds: number[]): Promise<Map<number, number>> {
    if (!packageIds.length) return new Map();
    const rows = await this.db
      .selectFrom('downloads')
      .innerJoin('package_versions', 'package_versions.id', 'downloads.version_id')
      .select(['package_versions.package_id', sql<number>`sum(downloads.count)`.as('n')])
      .where('package_versions.package_id', 'in', packageIds)
      .groupBy('package_versions.package_id')
      .execute();
    return new Map(rows.map((r) => [r.package_id, Number(r.n)]));
  }

  /**
   * What a list row shows of each package, in three queries whatever their number: how many live versions it has,
   * its newest live version, its live tags, and whether the version `wanted` names for it (its recorded latest) is
   * live. Packages without a live version are missing from the map.
   */
  async listFacts(packageIds: number[], wanted: ReadonlyMap<number, string>): Promise<Map<number, ListFacts>> {
    const out = new Map<number, ListFacts>();
    if (!packageIds.length) return out;
    const counts = await this.db
      .selectFrom('package_versions')
      .select(['package_id', sql<number>`count(*)`.as('n'), sql<number>`max(id)`.as('newest_id')])
      .where('package_id', 'in', packageIds)
      .where('deleted_at', 'is', null)
      .groupBy('package_id')
      .execute();
    if (!counts.length) return out;
    const newestIds = counts.map((c) => Number(c.newest_id));
    const wantedVersions = [...new Set(wanted.values())];
    const [named, tags] = await Promise.all([
      this.db
        .selectFrom('package_versions')
        .select(['id', 'package_id', 'version'])
        .where('deleted_at', 'is', null)
        .where((eb) => eb.or([eb('id', 'in', newestIds), ...(wantedVersions.length ? [eb.and([eb('package_id', 'in', packageIds), eb('version', 'in', wantedVersions)])] : [])]))
        .execute(),
      this.db
        .selectFrom('package_tags')
        .innerJoin('package_versions', 'package_versions.id', 'package_tags.version_id')
        .select(['package_tags.package_id', 'package_tags.name', 'package_versions.version'])
        .where('package_tags.package_id', 'in', packageIds)
        .where('package_versions.deleted_at', 'is', null)
        .orderBy('package_tags.name')
        .execute(),
    ]);
    const versionOf = new Map(named.map((r) => [Number(r.id), r.version]));
    for (const c of counts) {
      const id = Number(c.package_id);
      out.set(id, { versions: Number(c.n), newest: versionOf.get(Number(c.newest_id)) ?? null, tags: [], wantedLive: false });
    }
    for (const r of named) {
      const f = out.get(Number(r.package_id));
      if (f && wanted.get(Number(r.package_id)) === r.version) f.wantedLive = true;
    }
    for (const t of tags) out.get(Number(t.package_id))?.tags.push({ name: t.name, version: t.version });
    return out;
  }

  /** The package of each given version id (live or deleted), for adding buffered download counts to totals. */
  async packageIdsOfVersions(versionIds: number[]): Promise<Map<number, number>> {
    if (!versionIds.length) return new Map();
    const rows = await this.db.selectFrom('package_versions').select(['id', 'package_id']).where('id', 'in', versionIds).execute();
    return new Map(rows.map((r) => [Number(r.id), Number(r.package_id)]));
  }

  /** Daily downloads of a package over the last `days` days. */
  async downloadsByDay(packageId: number, days: number): Promise<{ day: string; count: number }[]> {
    const since = new Date(Date.now() - days * 864e5).toISOString().slice(0, 10);
    const rows = await this.db
      .selectFrom('downloads')
      .innerJoin('package_versions', 'package_versions.id', 'downloads.version_id')
      .select(['downloads.day', sql<number>`sum(downloads.count)`.as('count')])
      .where('package_versions.package_id', '=', packageId)
      .where('downloads.day', '>=', since)
      .groupBy('downloads.day')
      .orderBy('downloads.day')
      .execute();
    return rows.map((r) => ({ day: r.day, count: Number(r.count) }));
  }
}

const freeze = <T>(v: T): T => (v && typeof v === 'object' ? Object.freeze(v) : v);
