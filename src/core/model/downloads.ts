// Download counts, buffered in memory and written in one batch per interval: no DB write per download.
import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';

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

  /** Adds the buffered counts to today's rows (upsert; both dialects). */
  async flush(): Promise<void> {
    if (!this.pending.size) return;
    const batch = this.pending;
    this.pending = new Map();
    const day = new Date().toISOString().slice(0, 10);
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const [version_id, count] of batch) {
          await trx
            .insertInto('downloads')
            .values({ version_id, day, count })
            .onConflict((oc) => oc.columns(['version_id', 'day']).doUpdateSet({ count: sql`downloads.count + excluded.count` }))
            .execute();
        }
      });
    } catch (err) {
      // Put them back so a transient failure loses no counts (deleted versions are dropped by the FK).
      for (const [id, n] of batch) this.pending.set(id, (this.pending.get(id) ?? 0) + n);
      throw err;
    }
  }
}
