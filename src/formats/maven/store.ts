// Maven's files on the generic model. Maven uploads a version one file per request, so the first file creates
// the version (core.publisher.createVersion) and the others are added to it here, one transaction each. The core
// has no addFile/removeFile yet: these are written with core.db, in the core's conventions (blob row first,
// revision bump, unique violation = Conflict).
import type { StagedBlob } from '../../core/blobs/blob-store.ts';
import type { Actor } from '../../core/auth/actor.ts';
import type { Core } from '../../core/core.ts';
import { conflict, WharfError } from '../../core/errors.ts';
import { GenerationCache } from '../../db/changes.ts';
import type { Db } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/database.ts';
import type { Package } from '../../db/tables.ts';
import { parseFileName } from './coordinates.ts';

const TYPE = 'maven';
const now = () => new Date().toISOString();

export interface StoredFile {
  id: number;
  version_id: number;
  name: string;
  blob_digest: string;
  size: number;
  content_type: string;
  created_at: string;
  sha1: string | null;
  sha512: string | null;
  md5: string | null;
}

export interface NewMavenFile {
  ownerId: number;
  /** The package when it exists (live or deleted). */
  packageId: number | null;
  repositoryId: number | null;
  name: string;
  version: string;
  snapshot: boolean;
  file: string;
  blob: StagedBlob;
  contentType: string;
  primary: boolean;
  /** Version metadata when this file creates the version, or replaces it when it is the POM. */
  versionMetadata?: Record<string, unknown>;
  packageMetadata?: Record<string, unknown>;
  actor: Actor;
}

export class MavenStore {
  /** File lookups for the current change generation (a deploy, delete or restore moves it). */
  private readonly files: GenerationCache<StoredFile | undefined>;

  constructor(private readonly core: Core) {
    this.files = new GenerationCache(core.changes);
  }

  /** A file of a live version, with the blob's digests. */
  async file(packageId: number, version: string, name: string): Promise<StoredFile | undefined> {
    return this.files.get(`${packageId}\0${version.toLowerCase()}\0${name.toLowerCase()}`, () => this.loadFile(packageId, version, name));
  }

  private loadFile(packageId: number, version: string, name: string): Promise<StoredFile | undefined> {
    return this.core.db
      .selectFrom('package_files')
      .innerJoin('package_versions', 'package_versions.id', 'package_files.version_id')
      .innerJoin('blobs', 'blobs.digest', 'package_files.blob_digest')
      .select(['package_files.id', 'package_files.version_id', 'package_files.name', 'package_files.blob_digest', 'package_files.size', 'package_files.content_type', 'package_files.created_at', 'blobs.sha1', 'blobs.sha512', 'blobs.md5'])
      .where('package_versions.package_id', '=', packageId)
      .where('package_versions.lower_version', '=', version.toLowerCase())
      .where('package_versions.deleted_at', 'is', null)
      .where('package_files.lower_name', '=', name.toLowerCase())
      .executeTakeFirst();
  }

  /** Names and times of the files of a live version. */
  async versionFiles(packageId: number, version: string): Promise<{ name: string; created_at: string }[]> {
    return this.core.db
      .selectFrom('package_files')
      .innerJoin('package_versions', 'package_versions.id', 'package_files.version_id')
      .select(['package_files.name', 'package_files.created_at'])
      .where('package_versions.package_id', '=', packageId)
      .where('package_versions.lower_version', '=', version.toLowerCase())
      .where('package_versions.deleted_at', 'is', null)
      .execute();
  }

  /** Records digests computed later for a blob stored without them (e.g. by another format). */
  async fillDigests(digest: string, d: { sha1?: string; sha512?: string; md5?: string }): Promise<void> {
    await this.core.db.updateTable('blobs').set({ sha1: d.sha1, sha512: d.sha512, md5: d.md5 }).where('digest', '=', digest).execute();
  }

  /**
   * Stores one uploaded file: creates the version with it, or adds it to the existing version. A release file
   * that exists is a Conflict; a snapshot file is replaced. Returns the package.
   */
  async putFile(f: NewMavenFile): Promise<Package> {
    await this.core.publisher.commitBlobs([f.blob]);
    const version = f.packageId != null ? await this.core.packages.version(f.packageId, f.version, { includeDeleted: true }) : undefined;
    if (!version) {
      try {
        const r = await this.core.publisher.createVersion({
          ownerId: f.ownerId, type: TYPE, name: f.name, version: f.version, metadata: f.versionMetadata ?? {},
          packageMetadata: f.packageMetadata, repositoryId: f.repositoryId, actor: f.actor,
          files: [{ name: f.file, blob: f.blob, contentType: f.contentType, primary: f.primary }],
        });
        return r.pkg;
      } catch (e) {
        // Another file of the same version won the race to create it: add this one to it.
        if (!(e instanceof WharfError && e.kind === 'Conflict')) throw e;
      }
    }
    return this.addFile(f);
  }

  /** The next file of an existing version (a SNAPSHOT file deployed again replaces the old one). */
  private async addFile(f: NewMavenFile): Promise<Package> {
    const pkg = await this.core.db.selectFrom('packages').selectAll().where('owner_id', '=', f.ownerId).where('type', '=', TYPE).where('lower_name', '=', f.name.toLowerCase()).executeTakeFirstOrThrow();
    const v = await this.core.db.selectFrom('package_versions').select(['id', 'version', 'deleted_at']).where('package_id', '=', pkg.id).where('lower_version', '=', f.version.toLowerCase()).executeTakeFirstOrThrow();
    if (v.deleted_at) throw conflict(`version ${f.version} of ${f.name} was deleted: restore it, or deploy another version`);
    // Checked by the routes too, but a version created meanwhile in another case (2.0-snapshot, a release) must
    // not get this file with a SNAPSHOT's right to replace.
    if (v.version !== f.version) throw conflict(`${f.name} has version ${v.version}: ${f.version} differs from it only in case, deploy to ${v.version}`);
    try {
      await this.core.publisher.addFiles(pkg.id, v.id, [{ name: f.file, blob: f.blob, contentType: f.contentType, primary: f.primary }], [], f.actor, {
        replace: f.snapshot, versionMetadata: f.versionMetadata, packageMetadata: f.packageMetadata,
      });
    } catch (e) {
      if (e instanceof WharfError && e.code === 'EFILECONFLICT') {
        throw conflict(f.snapshot ? `${f.file} is being uploaded by another request` : `${f.file} already exists: release versions are immutable (deploy a new version)`);
      }
      if (e instanceof WharfError && e.kind === 'NotFound') throw conflict(`version ${f.version} of ${f.name} was deleted: restore it, or deploy another version`);
      throw e;
    }
    return pkg;
  }

  /**
   * Drops a file whose uploaded checksum did not match (the file is not kept). A version left without files
   * was created by that upload alone, so it goes too.
   */
  async removeFile(packageId: number, fileId: number, versionId: number): Promise<void> {
    await this.core.db.transaction().execute(async (trx) => {
      const db = trx as unknown as Db;
      const others = await db.selectFrom('package_files').select('id').where('version_id', '=', versionId).where('id', '!=', fileId).limit(1).executeTakeFirst();
      await this.core.publisher.usage.removeFiles(db, [fileId], !others);
      await db.deleteFrom('package_files').where('id', '=', fileId).execute();
      const left = await db.selectFrom('package_files').select('id').where('version_id', '=', versionId).limit(1).executeTakeFirst();
      if (!left) {
        await db.deleteFrom('package_properties').where('ref_type', '=', 'version').where('ref_id', '=', versionId).execute();
        await db.deleteFrom('package_tags').where('version_id', '=', versionId).execute();
        await db.deleteFrom('downloads').where('version_id', '=', versionId).execute();
        await db.deleteFrom('package_versions').where('id', '=', versionId).execute();
      }
      await db.updateTable('packages').set((eb) => ({ revision: eb('revision', '+', 1), updated_at: now() })).where('id', '=', packageId).execute();
    });
  }

  /** Keeps the newest `keep` builds of a snapshot version and removes the files of older ones. Returns how many went. */
  async pruneSnapshots(packageId: number, version: string, artifactId: string, keep: number): Promise<number> {
    if (keep <= 0) return 0;
    const v = await this.core.packages.version(packageId, version);
    if (!v) return 0;
    const files = await this.core.db.selectFrom('package_files').select(['id', 'name']).where('version_id', '=', v.id).execute();
    const builds = new Map<number, number[]>();
    for (const f of files) {
      let n: number | undefined;
      try {
        n = parseFileName(artifactId, version, f.name).build?.number;
      } catch {}
      if (n === undefined) continue;
      builds.set(n, [...(builds.get(n) ?? []), f.id]);
    }
    const old = [...builds.keys()].sort((a, b) => b - a).slice(keep);
    const ids = old.flatMap((n) => builds.get(n)!);
    if (!ids.length) return 0;
    await this.core.db.transaction().execute(async (trx) => {
      const db = trx as unknown as Db;
      await this.core.publisher.usage.removeFiles(db, ids);
      await db.deleteFrom('package_files').where('id', 'in', ids).execute();
      await db.updateTable('packages').set((eb) => ({ revision: eb('revision', '+', 1), updated_at: now() })).where('id', '=', packageId).execute();
    });
    return ids.length;
  }
}
