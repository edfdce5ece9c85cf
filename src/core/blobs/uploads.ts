// Resumable upload sessions (OCI chunked uploads): a row per session in the database, the bytes in the blob
// store's uploads folder, so a session survives a restart and can be resumed on any node sharing both.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Db } from '../../db/database.ts';
import { nowIso } from '../clock.ts';
import { WharfError, invalid, notFound } from '../errors.ts';
import type { BlobStore, StagedBlob } from './blob-store.ts';

export class UploadSessions {
  /** One append at a time per session in this process (chunks must land in order). */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly db: Db, private readonly store: BlobStore, private readonly maxBlobSize: number) {}

  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(id, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(id) === next) this.locks.delete(id);
    }
  }

  /** Starts an upload into a package (an OCI repository). */
  async create(packageId: number): Promise<{ id: string; size: number }> {
    const id = randomUUID();
    await this.store.appendUpload(id, Readable.from([]), 0, this.maxBlobSize);
    const now = nowIso();
    await this.db.insertInto('upload_sessions').values({ id, package_id: packageId, size: 0, created_at: now, updated_at: now }).execute();
    return { id, size: 0 };
  }

  /** The session, if it belongs to that package; NotFound otherwise (an id from another repository is unknown here). */
  async get(id: string, packageId: number): Promise<{ id: string; size: number }> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw notFound('upload not found');
    const row = await this.db.selectFrom('upload_sessions').select(['id', 'size']).where('id', '=', id).where('package_id', '=', packageId).executeTakeFirst();
    if (!row) throw notFound('upload not found');
    const size = await this.store.uploadSize(id);
    if (size === null) throw notFound('upload not found');
    return { id, size };
  }

  /**
   * Appends a chunk that must start at `offset` (null: wherever the upload is). Returns the new size. `limit`: the
   * most the whole upload may hold, below the largest blob (what an owner's quota leaves a body of undeclared size).
   */
  async append(id: string, packageId: number, source: Readable, offset: number | null, limit = Infinity): Promise<number> {
    return this.locked(id, async () => {
      const s = await this.get(id, packageId);
      const at = offset ?? s.size;
      if (at !== s.size) throw new WharfError('Invalid', `chunk starts at ${at} but the upload is at ${s.size}`, 'RANGE');
      try {
        const size = await this.store.appendUpload(id, source, at, Math.min(this.maxBlobSize, limit));
        await this.db.updateTable('upload_sessions').set({ size, updated_at: nowIso() }).where('id', '=', id).execute();
        return size;
      } catch (e) {
        if ((e as { code?: string }).code === 'EOFFSET') throw new WharfError('Invalid', (e as Error).message, 'RANGE');
        throw e;
      }
    });
  }

  /** Ends the upload: the content must hash to `digest`, else nothing is kept (DIGEST_INVALID). */
  async finish(id: string, packageId: number, digest: string): Promise<StagedBlob> {
    return this.locked(id, async () => {
      await this.get(id, packageId);
      const staged = await this.store.finishUpload(id);
      await this.db.deleteFrom('upload_sessions').where('id', '=', id).execute();
      if (staged.digest !== digest) {
        await staged.cancel();
        throw invalid(`content digest ${staged.digest} does not match ${digest}`, 'DIGEST_INVALID');
      }
      return staged;
    });
  }

  async cancel(id: string, packageId: number): Promise<void> {
    await this.get(id, packageId);
    await this.db.deleteFrom('upload_sessions').where('id', '=', id).execute();
    await this.store.removeUpload(id);
  }

  /**
   * Removes sessions idle for longer than `maxIdleMs`, and upload files no session knows; `dryRun` removes nothing
   * and tells what it would remove. Each one goes to `each` (its id, size and last write).
   */
  async cleanup(maxIdleMs: number, opts: { dryRun?: boolean; each?: (u: { id: string; bytes: number; idleSince: string }) => void } = {}): Promise<number> {
    const cutoff = Date.now() - maxIdleMs;
    const stale = await this.db.selectFrom('upload_sessions').select(['id', 'updated_at']).where('updated_at', '<', nowIso(cutoff)).execute();
    for (const { id, updated_at } of stale) {
      opts.each?.({ id, bytes: (await this.store.uploadSize(id)) ?? 0, idleSince: updated_at });
      if (opts.dryRun) continue;
      await this.db.deleteFrom('upload_sessions').where('id', '=', id).execute();
      await this.store.removeUpload(id);
    }
    let removed = stale.length;
    // In a dry run the stale sessions are still known, so their files are not counted twice.
    const known = new Set((await this.db.selectFrom('upload_sessions').select('id').execute()).map((r) => r.id));
    for (const u of await this.store.listUploads()) {
      if (!known.has(u.id) && u.modifiedMs < cutoff) {
        opts.each?.({ id: u.id, bytes: (await this.store.uploadSize(u.id)) ?? 0, idleSince: nowIso(u.modifiedMs) });
        if (!opts.dryRun) await this.store.removeUpload(u.id).catch(() => {});
        removed += 1;
      }
    }
    return removed;
  }
}
