// Garbage collection: purges deleted packages and versions past their restore window, expires abandoned uploads,
// removes stored blobs that no package file refers to, and the temp files of processes that died while receiving
// content.
// What counts as a reference is what distribution's mark phase counts: the files of versions (every manifest,
// config and layer of an image, live or deleted but still restorable). A repository's hold on a blob uploaded
// before its manifest (the package property 'blob') is not one: it protects the blob only for the grace period
// after the blob was last written, which is what lets a client push its layers first and the manifest after
// them. A blob an abandoned push left, or that only a purged image named, goes with the holds on it.
// Safe while pushes continue: a blob is only removed once it has been unreferenced for a grace period, its file
// is older than that period (a commit of identical content, which every upload does, refreshes it), and a last
// check of the database right before the removal still finds no reference. What a hold no longer guarantees: a
// client that found an old, unreferenced layer in a repository (HEAD 200, or a mount) and names it in a manifest
// pushed while a collection removes it gets MANIFEST_BLOB_UNKNOWN and pushes the layer again; only a manifest
// checked before the removal and committed after it (a window of milliseconds) would name a missing blob.
// (distribution avoids the question by collecting only while the registry is read-only.)
// Several nodes: one collection at a time, fleet-wide, under the lease 'gc' (jobs/leases.ts); a second one (a
// scheduled run on another node, `wharf gc` while the server collects) is refused with Conflict. A blob another
// node is committing is never removed: writers mark it in `blob_writes` before it becomes visible, and the
// removal happens inside the transaction that locks that mark (see fence.ts), so file times read earlier in the
// collection do not decide.
import path from 'node:path';
import type { Core } from '../core.ts';
import type { Db } from '../../db/database.ts';
import { nowIso } from '../clock.ts';
import { removeStaleFiles } from './stale-files.ts';
import { conflict } from '../errors.ts';
import { acquireLease, leaseInfo, type Lease } from '../jobs/leases.ts';
import { forgetWritten, writtenSince } from './fence.ts';

/** The lease a collection (and with it upload expiry) holds while it runs, on whichever node. */
export const GC_LEASE = 'gc';

export interface GcReport {
  purgedVersions: number;
  purgedPackages: number;
  expiredUploads: number;
  removedBlobs: number;
  /** Holds of repositories on the removed blobs (layers pushed without a manifest, or named only by purged ones). */
  releasedHolds: number;
  /** Temp files left by a process that died mid-write (blob store and request spool), untouched for the grace period. */
  removedTempFiles: number;
  /** Bytes of the removed blobs, abandoned uploads and temp files. */
  freedBytes: number;
  dryRun: boolean;
}

/** One thing a collection removes (or, in a dry run, would remove), for a person to check before it runs. */
export type GcItem =
  | { step: 'purge'; what: 'package' | 'version'; type: string; owner: string; name: string; version: string | null; deletedAt: string }
  | { step: 'upload'; id: string; bytes: number; idleSince: string }
  | { step: 'blob'; digest: string; bytes: number; holds: number };

/** Temp files younger than this are never removed (see step 4). */
export const TEMP_MIN_AGE_MS = 3600_000;

const isForeignKeyViolation = (e: unknown) => ['23503', 'SQLITE_CONSTRAINT_FOREIGNKEY'].includes((e as { code?: string })?.code ?? '');

/**
 * One collection: purge, expire, then remove what nothing refers to (see the top of this file). A dry run writes
 * nothing and counts what the same collection would do now, the blobs that only the purged versions refer to
 * included; `each` hears of every package, version, upload and blob as it goes (temp files are only counted).
 */
export async function collectGarbage(core: Core, opts: { dryRun?: boolean; graceMs?: number; each?: (item: GcItem) => void } = {}): Promise<GcReport> {
  // A dry run changes nothing, so it needs no lease and may run beside a collection.
  if (opts.dryRun) return collect(core, opts, null);
  const lease = await acquireLease(core.db, GC_LEASE);
  if (!lease) {
    const held = await leaseInfo(core.db, GC_LEASE);
    throw conflict(`a garbage collection is already running (${held?.holder ?? 'another node'}, lease until ${held?.expiresAt ?? '?'}): try again when it has finished`, 'GC_RUNNING');
  }
  let done = false;
  try {
    const report = await collect(core, opts, lease);
    done = true;
    return report;
  } finally {
    await lease.release(done).catch(() => {});
  }
}

/**
 * The server's scheduled collection: none when another node finished one less than `intervalMs` ago or is running
 * one now (so N nodes collect about once per interval between them, not N times). Null when skipped.
 */
export async function scheduledCollection(core: Core, intervalMs: number): Promise<GcReport | null> {
  const info = await leaseInfo(core.db, GC_LEASE);
  if (info?.finishedAt && Date.parse(info.finishedAt) > Date.now() - intervalMs * 0.9) return null;
  if (info && Date.parse(info.expiresAt) > Date.now()) return null;
  try {
    return await collectGarbage(core);
  } catch (e) {
    if ((e as { code?: string }).code === 'GC_RUNNING') return null; // another node got there first
    throw e;
  }
}

async function collect(core: Core, opts: { dryRun?: boolean; graceMs?: number; each?: (item: GcItem) => void }, lease: Lease | null): Promise<GcReport> {
  // A collection that stalled past its lease stops before removing anything more: another may have begun.
  const stillHeld = () => {
    if (lease && !lease.held) throw new Error('garbage collection lost its lease (stalled past it): stopped; the next collection carries on');
  };
  const dryRun = !!opts.dryRun;
  const graceMs = opts.graceMs ?? 3600_000;
  const { db } = core;
  const cutoff = nowIso(Date.now() - core.config.restoreDays * 864e5);
  const report: GcReport = { purgedVersions: 0, purgedPackages: 0, expiredUploads: 0, removedBlobs: 0, releasedHolds: 0, removedTempFiles: 0, freedBytes: 0, dryRun };

  // 1. Deleted packages and versions past the restore window are gone for good.
  const oldPackages = await db.selectFrom('packages').innerJoin('owners', 'owners.id', 'packages.owner_id')
    .select(['packages.id', 'packages.type', 'packages.name', 'owners.name as owner', 'packages.deleted_at']).where('packages.deleted_at', '<', cutoff).orderBy('packages.id').execute();
  const oldVersions = await db.selectFrom('package_versions').innerJoin('packages', 'packages.id', 'package_versions.package_id').innerJoin('owners', 'owners.id', 'packages.owner_id')
    .select(['package_versions.id', 'packages.type', 'packages.name', 'owners.name as owner', 'package_versions.version', 'package_versions.deleted_at'])
    .where('package_versions.deleted_at', '<', cutoff).orderBy('package_versions.id').execute();
  report.purgedPackages = oldPackages.length;
  report.purgedVersions = oldVersions.length;
  for (const p of oldPackages) opts.each?.({ step: 'purge', what: 'package', type: p.type, owner: p.owner, name: p.name, version: null, deletedAt: p.deleted_at! });
  for (const v of oldVersions) opts.each?.({ step: 'purge', what: 'version', type: v.type, owner: v.owner, name: v.name, version: v.version, deletedAt: v.deleted_at! });
  if (!dryRun) {
    for (const { id } of oldVersions) {
      await db.deleteFrom('package_properties').where('ref_type', '=', 'version').where('ref_id', '=', id).execute();
      await db.deleteFrom('package_versions').where('id', '=', id).execute();
    }
    for (const { id } of oldPackages) {
      // Its versions go with it (cascade); their properties (an OCI subject, say) are not reached by the cascade.
      const versions = db.selectFrom('package_versions').select('id').where('package_id', '=', id);
      await db.deleteFrom('package_properties').where('ref_type', '=', 'version').where('ref_id', 'in', versions).execute();
      await db.deleteFrom('package_properties').where('ref_type', '=', 'package').where('ref_id', '=', id).execute();
      await db.deleteFrom('packages').where('id', '=', id).execute();
    }
  }

  // 2. Abandoned uploads.
  stillHeld();
  report.expiredUploads = await core.uploads.cleanup(core.config.uploadExpirySeconds * 1000, {
    dryRun,
    each: (u) => {
      report.freedBytes += u.bytes;
      opts.each?.({ step: 'upload', ...u });
    },
  });

  // 3. Unreferenced blobs: no version's file names them (holds do not count, see the top of this file). A dry run
  // purged nothing, so it does not count the files of the versions step 1 would have purged.
  const files = (q: Db) => {
    const all = q.selectFrom('package_files');
    if (!dryRun) return all;
    return all
      .where('package_files.version_id', 'not in', q.selectFrom('package_versions').select('id').where('deleted_at', '<', cutoff))
      .where('package_files.version_id', 'not in', q.selectFrom('package_versions').select('id').where('package_id', 'in', q.selectFrom('packages').select('id').where('deleted_at', '<', cutoff)));
  };
  // A proxy's cached documents (npm packuments, core/proxy) are references too.
  const isReferenced = async (q: Db, digest: string) =>
    !!(await files(q).select('package_files.id').where('package_files.blob_digest', '=', digest).limit(1).executeTakeFirst()) ||
    !!(await q.selectFrom('proxy_documents').select('owner_id').where('blob_digest', '=', digest).limit(1).executeTakeFirst());
  const referenced = new Set<string>();
  for (const r of await files(db).select('package_files.blob_digest').distinct().execute()) referenced.add(r.blob_digest);
  for (const r of await db.selectFrom('proxy_documents').select('blob_digest').distinct().execute()) referenced.add(r.blob_digest);
  const before = Date.now() - graceMs;
  for await (const b of core.blobs.listBlobs()) {
    if (referenced.has(b.digest) || b.modifiedMs >= before) continue;
    const row = await db.selectFrom('blobs').select(['size', 'created_at']).where('digest', '=', b.digest).executeTakeFirst();
    if (row && row.created_at >= nowIso(before)) continue;
    if (await isReferenced(db, b.digest)) continue;
    const size = (await core.blobs.stat(b.digest))?.size ?? row?.size ?? 0;
    let holds: number;
    if (dryRun) {
      const held = await db.selectFrom('package_properties').select('id').where('ref_type', '=', 'package').where('name', '=', 'blob').where('value', '=', b.digest).execute();
      holds = held.length;
    } else {
      stillHeld();
      // The last look, the release and the removal in one transaction that first locks the blob's write mark
      // (fence.ts): a node committing this content meanwhile either marked it first (it stays) or waits for the
      // removal to commit and then writes the content again. A manifest committed meanwhile keeps the blob too.
      const released = await db.transaction().execute(async (t) => {
        const trx = t as unknown as Db;
        if (await writtenSince(trx, b.digest, nowIso(before))) return null;
        if (await isReferenced(trx, b.digest)) return null;
        const r = await trx.deleteFrom('package_properties').where('ref_type', '=', 'package').where('name', '=', 'blob').where('value', '=', b.digest).executeTakeFirst();
        await trx.deleteFrom('blobs').where('digest', '=', b.digest).execute();
        await forgetWritten(trx, b.digest);
        await core.blobs.remove(b.digest);
        return Number(r.numDeletedRows);
      }).catch((e) => {
        // A version committed meanwhile refers to it (the blobs row is a foreign key of its files): it stays.
        if (isForeignKeyViolation(e)) return null;
        throw e;
      });
      if (released === null) continue;
      holds = released;
    }
    report.releasedHolds += holds;
    report.removedBlobs += 1;
    report.freedBytes += size;
    opts.each?.({ step: 'blob', digest: b.digest, bytes: size, holds });
  }

  // 4. Temp files nobody is writing: a live write keeps its file fresh, so one untouched for the grace period was
  // left by a process that died mid-publish (it would otherwise hold its disk space forever). Never younger than
  // an hour, whatever --grace says: a temp file has no database row to check again, and a request in flight owns it.
  stillHeld();
  const tempBefore = Math.min(before, Date.now() - TEMP_MIN_AGE_MS);
  for (const swept of [await core.blobs.sweepTemp(tempBefore, dryRun), await removeStaleFiles(path.join(core.config.dataDir, 'tmp'), tempBefore, dryRun)]) {
    report.removedTempFiles += swept.files;
    report.freedBytes += swept.bytes;
  }
  return report;
}
