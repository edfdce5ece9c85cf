// Leases: a job that only one node may run at a time (garbage collection, with upload expiry) takes a lease row in
// `job_leases` before it starts. The lease is a time, not a connection: it is renewed while the job runs and lapses
// on its own when the node holding it dies, so the next node takes it over without anyone's help. It works the
// same on PostgreSQL (several nodes) and on SQLite (the server and `wharf gc` on one file), where an advisory lock
// would not exist, and it holds no database connection for the length of the job.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { nowIso } from '../clock.ts';

/** This process, as it appears in `job_leases.holder` and `webhook_deliveries.claimed_by`: host, pid and a nonce. */
export const NODE_ID = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** False once a renewal found the lease taken by another node (after this one stalled past its expiry). */
  readonly held: boolean;
  /** Gives the lease up; `finished` records the job as done now (a scheduled run elsewhere may then skip). */
  release(finished?: boolean): Promise<void>;
}

export interface LeaseInfo {
  holder: string;
  expiresAt: string;
  finishedAt: string | null;
}

/** The lease row of a job, whoever holds it. */
export async function leaseInfo(db: Db, name: string): Promise<LeaseInfo | null> {
  const row = await db.selectFrom('job_leases').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? { holder: row.holder, expiresAt: row.expires_at, finishedAt: row.finished_at } : null;
}

/**
 * Takes the lease `name` for `ttlMs` (renewed every third of it while held) unless another holder's lease is still
 * running; null then. One statement, atomic on both dialects: an upsert that replaces the row only when it lapsed.
 */
export async function acquireLease(db: Db, name: string, opts: { ttlMs?: number; holder?: string } = {}): Promise<Lease | null> {
  const ttlMs = opts.ttlMs ?? 60_000;
  const holder = opts.holder ?? `${NODE_ID}:${randomBytes(4).toString('hex')}`;
  const take = async () => {
    const now = nowIso();
    const row = await db
      .insertInto('job_leases')
      .values({ name, holder, expires_at: nowIso(Date.now() + ttlMs), finished_at: null })
      .onConflict((oc) =>
        oc.column('name')
          .doUpdateSet((eb) => ({ holder: eb.ref('excluded.holder'), expires_at: eb.ref('excluded.expires_at') }))
          .where((eb) => eb.or([eb('job_leases.expires_at', '<', now), eb('job_leases.holder', '=', holder)])),
      )
      .returning('holder')
      .executeTakeFirst();
    return row?.holder === holder;
  };
  if (!(await take())) return null;
  let held = true;
  let released = false;
  const timer = setInterval(() => {
    take().then(
      (ok) => {
        if (!ok && !released) held = false;
      },
      () => {}, // a failed renewal is retried at the next tick; the lease may lapse meanwhile
    );
  }, Math.max(10, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    name,
    holder,
    get held() {
      return held;
    },
    async release(finished = false) {
      if (released) return;
      released = true;
      clearInterval(timer);
      // Expire it now rather than deleting it: the row keeps `finished_at` for the next scheduled run.
      const set: { expires_at: string; finished_at?: string } = { expires_at: nowIso(0) };
      if (finished) set.finished_at = nowIso();
      await db.updateTable('job_leases').set(set).where('name', '=', name).where('holder', '=', holder).execute();
    },
  };
}
