// Download counts, buffered in memory and written in batches per interval: no DB write per download.
// Several nodes: each buffers its own downloads and adds them to the shared rows with one atomic upsert
// (count = count + n), so concurrent flushes from any number of nodes all add up; what a node had not flushed
// when it was killed (SIGKILL: at most one interval's worth) is lost, a graceful stop flushes it.
import type { Core } from '../core.ts';
import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';

/** Versions per statement: one multi-row upsert (3 parameters a row) instead of a statement per version. */
const CHUNK = 500;

export class DownloadCounter {
  private pending = new Map<number, number>();
  constructor(private readonly db: Db) {}

  /** Counts one download of a version (hot path: a map increment). */
  record(versionId: number): void {
    this.pending.set(versionId, (this.pending.get(versionId) ?? 0) + 1);
  }

  /** Not yet flushed counts for a version. */
  pendingFor(versionId: number): number {
    return this.pending.get(versionId) ?? 0;
  }

  /** Every buffered count, by version id (for totals over many packages). */
  pendingEntries(): [number, number][] {
    return [...this.pending];
  }

  /**
   * Adds the buffered counts to today's rows (upsert; both dialects), one short transaction per chunk of versions so
   * that a large batch never holds the database for long. A version removed since it was downloaded (purged, or a
   * Maven version dropped with its only file) has nothing to count against: its count is dropped rather than
   * failing the batch, which would otherwise be put back and fail again at every flush.
   */
  async flush(): Promise<void> {
    if (!this.pending.size) return;
    // In version order: two nodes flushing overlapping versions lock their rows in the same order (no deadlock).
    const batch = [...this.pending].sort((a, b) => a[0] - b[0]);
    this.pending = new Map();
    const day = new Date().toISOString().slice(0, 10);
    for (let at = 0; at < batch.length; at += CHUNK) {
      // Requests run between chunks (better-sqlite3 is synchronous: a chunk holds the event loop, ~2 ms).
      if (at) await new Promise((resolve) => setImmediate(resolve));
      const chunk = batch.slice(at, at + CHUNK);
      try {
        await this.db.transaction().execute(async (trx) => {
          const ids = chunk.map(([id]) => id);
          const live = new Set((await trx.selectFrom('package_versions').select('id').where('id', 'in', ids).execute()).map((r) => Number(r.id)));
          const rows = chunk.filter(([id]) => live.has(id)).map(([version_id, count]) => ({ version_id, day, count }));
          if (!rows.length) return;
          await trx
            .insertInto('downloads')
            .values(rows)
            .onConflict((oc) => oc.columns(['version_id', 'day']).doUpdateSet({ count: sql`downloads.count + excluded.count` }))
            .execute();
        });
      } catch (err) {
        // Put back what was not written, so a transient failure loses no counts.
        for (const [id, n] of batch.slice(at)) this.pending.set(id, (this.pending.get(id) ?? 0) + n);
        throw err;
      }
    }
  }
}

/**
 * Total downloads per package, flushed and still buffered, of live and deleted (yanked, unpublished) versions alike:
 * what the web UI's lists and pages and the REST API show.
 */
export async function packageDownloadTotals(core: Pick<Core, 'packages' | 'downloads'>, packageIds: number[]): Promise<Map<number, number>> {
  const out = await core.packages.downloadTotals(packageIds);
  const pending = core.downloads.pendingEntries();
  if (pending.length) {
    const listed = new Set(packageIds);
    const packageOf = await core.packages.packageIdsOfVersions(pending.map(([id]) => id));
    for (const [versionId, n] of pending) {
      const p = packageOf.get(versionId);
      if (p !== undefined && listed.has(p)) out.set(p, (out.get(p) ?? 0) + n);
    }
  }
  return out;
}
