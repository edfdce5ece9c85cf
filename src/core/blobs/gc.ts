// Garbage collection: purges deleted packages and versions past their restore window, expires abandoned uploads,
// removes stored blobs that nothing refers to (no package file, no package holding it, no live upload), and the
// temp files of processes that died while receiving content.
// Safe while pushes continue: a blob is only removed once it has been unreferenced for a grace period, its file
// is older than that period (a commit of identical content refreshes it), and a last check of the database
// right before the removal still finds no reference.
import path from 'node:path';
import { sql } from 'kysely';
import type { Core } from '../core.ts';
import { nowIso } from '../clock.ts';
import { removeStaleFiles } from './stale-files.ts';

export interface GcReport {
  purgedVersions: number;
  purgedPackages: number;
  expiredUploads: number;
  removedBlobs: number;
  /** Temp files left by a process that died mid-write (blob store and request spool), untouched for the grace period. */
  removedTempFiles: number;
  freedBytes: number;
  dryRun: boolean;
}

/** Temp files younger than this are never removed (see step 4). */
export const TEMP_MIN_AGE_MS = 3600_000;

export async function collectGarbage(core: Core, opts: { dryRun?: boolean; graceMs?: number } = {}): Promise<GcReport> {
  const dryRun = !!opts.dryRun;
  const graceMs = opts.graceMs ?? 3600_000;
  const { db } = core;
  const cutoff = nowIso(Date.now() - core.config.restoreDays * 864e5);
  const report: GcReport = { purgedVersions: 0, purgedPackages: 0, expiredUploads: 0, removedBlobs: 0, removedTempFiles: 0, freedBytes: 0, dryRun };

  // 1. Deleted packages and versions past the restore window are gone for good.
  const oldPackages = await db.selectFrom('packages').select('id').where('deleted_at', '<', cutoff).execute();
  const oldVersions = await db.selectFrom('package_versions').select('id').where('deleted_at', '<', cutoff).execute();
  report.purgedPackages = oldPackages.length;
  report.purgedVersions = oldVersions.length;
  if (!dryRun) {
    for (const { id } of oldVersions) {
      await db.deleteFrom('package_properties').where('ref_type', '=', 'version').where('ref_id', '=', id).execute();
      await db.deleteFrom('package_versions').where('id', '=', id).execute();
    }
    for (const { id } of oldPackages) {
      await db.deleteFrom('package_properties').where('ref_type', '=', 'package').where('ref_id', '=', id).execute();
      await db.deleteFrom('packages').where('id', '=', id).execute();
    }
  }

  // 2. Abandoned uploads.
  if (!dryRun) report.expiredUploads = await core.uploads.cleanup(core.config.uploadExpirySeconds * 1000);

  // 3. Unreferenced blobs.
  const isReferenced = async (digest: string) => {
    const f = await db.selectFrom('package_files').select('id').where('blob_digest', '=', digest).limit(1).executeTakeFirst();
    if (f) return true;
    const p = await db.selectFrom('package_properties').select('id').where('name', '=', 'blob').where('value', '=', digest).limit(1).executeTakeFirst();
    return !!p;
  };
  const referenced = new Set<string>();
  for (const r of await db.selectFrom('package_files').select('blob_digest').distinct().execute()) referenced.add(r.blob_digest);
  for (const r of await db.selectFrom('package_properties').select('value').where('name', '=', 'blob').distinct().execute()) referenced.add(r.value);
  const before = Date.now() - graceMs;
  for await (const b of core.blobs.listBlobs()) {
    if (referenced.has(b.digest) || b.modifiedMs >= before) continue;
    const row = await db.selectFrom('blobs').select(['size', 'created_at']).where('digest', '=', b.digest).executeTakeFirst();
    if (row && row.created_at >= nowIso(before)) continue;
    if (await isReferenced(b.digest)) continue;
    const size = (await core.blobs.stat(b.digest))?.size ?? row?.size ?? 0;
    report.removedBlobs += 1;
    report.freedBytes += size;
    if (dryRun) continue;
    await db.deleteFrom('blobs').where('digest', '=', b.digest).where(sql<boolean>`not exists (select 1 from package_files where blob_digest = ${b.digest})`).execute();
    await core.blobs.remove(b.digest);
  }

  // 4. Temp files nobody is writing: a live write keeps its file fresh, so one untouched for the grace period was
  // left by a process that died mid-publish (it would otherwise hold its disk space forever). Never younger than
  // an hour, whatever --grace says: a temp file has no database row to check again, and a request in flight owns it.
  const tempBefore = Math.min(before, Date.now() - TEMP_MIN_AGE_MS);
  for (const swept of [await core.blobs.sweepTemp(tempBefore, dryRun), await removeStaleFiles(path.join(core.config.dataDir, 'tmp'), tempBefore, dryRun)]) {
    report.removedTempFiles += swept.files;
    report.freedBytes += swept.bytes;
  }
  return report;
}
