// The fence between writing a blob and collecting it, on any number of nodes (see gc.ts step 3).
//
// A writer marks each blob it is about to commit (or name, when the content is already stored) in `blob_writes`,
// *before* making it visible; a collection removes a blob only inside one transaction that first locks that row
// (an upsert that changes nothing), finds it older than the grace period, deletes the `blobs` row and removes the
// content, and only then commits. Both take the same row lock (PostgreSQL; on SQLite, the file's write lock), so:
//   - a mark committed before the collection's lock makes the blob young: the collection leaves it alone;
//   - a mark that comes while the collection holds the lock waits until the content is removed and the removal
//     committed; the writer then commits its content again (or, naming stored content, finds its row gone and
//     fails instead of referring to nothing).
// Comparing file times alone could not do this: a collection that read a file's time before another node
// committed identical content (which refreshes it) would still remove it.
import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import { nowIso } from '../clock.ts';
import { WharfError } from '../errors.ts';

/**
 * Marks blobs as written now, in one statement (sorted, so that two nodes marking overlapping sets never deadlock).
 * `stored`: digests the caller names without committing content (already stored): each must still exist after the
 * mark (its `blobs` row, else in the store), or a collection removed it meanwhile and this throws NotFound.
 */
export async function markWritten(db: Db, digests: string[], stored: string[] = [], storeHas: (digest: string) => Promise<boolean> = async () => false, marks: Marks = new Marks(db)): Promise<void> {
  if (!digests.length) return;
  await marks.mark(digests);
  const check = [...new Set(stored)];
  if (!check.length) return;
  const rows = await db.selectFrom('blobs').select('digest').where('digest', 'in', check).execute();
  const have = new Set(rows.map((r) => r.digest));
  // A collection deletes the row and the content in one transaction: a row after the mark is proof enough. Without
  // one (content committed outside a publish), the store is asked.
  const gone: string[] = [];
  for (const d of check) if (!have.has(d) && !(await storeHas(d))) gone.push(d);
  if (gone.length) throw new WharfError('NotFound', `blob ${gone[0]} was removed by garbage collection meanwhile: upload it again`, 'BLOB_UNKNOWN');
}

/**
 * Group commit of marks: the marks asked for while the event loop is busy with other requests are written in one
 * statement (its own transaction) once it turns, and every caller goes on once that statement has committed: the
 * same guarantee as one statement each, one commit (and one round trip) for all of them. Concurrent publishes each
 * paid a commit of their own for this one row before.
 */
export class Marks {
  private pending: { digests: string[]; done: () => void; failed: (e: unknown) => void }[] = [];

  constructor(private readonly db: Db) {}

  mark(digests: string[]): Promise<void> {
    return new Promise((done, failed) => {
      if (this.pending.push({ digests, done, failed }) === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    // Sorted, so that two nodes marking overlapping sets never deadlock.
    const all = [...new Set(batch.flatMap((b) => b.digests))].sort();
    const at = nowIso();
    try {
      await this.db
        .insertInto('blob_writes')
        .values(all.map((digest) => ({ digest, written_at: at })))
        .onConflict((oc) => oc.column('digest').doUpdateSet({ written_at: sql`excluded.written_at` }))
        .execute();
    } catch (e) {
      for (const b of batch) b.failed(e);
      return;
    }
    for (const b of batch) b.done();
  }
}

/**
 * The collection's side, inside its transaction `trx`: locks the blob's mark (creating an old one when the blob
 * was never marked: content stored before marks existed) and says whether it was written at or after `beforeIso`.
 */
export async function writtenSince(trx: Db, digest: string, beforeIso: string): Promise<boolean> {
  const row = await trx
    .insertInto('blob_writes')
    .values({ digest, written_at: nowIso(0) })
    .onConflict((oc) => oc.column('digest').doUpdateSet({ written_at: sql`blob_writes.written_at` }))
    .returning('written_at')
    .executeTakeFirstOrThrow();
  return row.written_at >= beforeIso;
}

/** Forgets a removed blob's mark (in the collection's transaction). */
export async function forgetWritten(trx: Db, digest: string): Promise<void> {
  await trx.deleteFrom('blob_writes').where('digest', '=', digest).execute();
}
