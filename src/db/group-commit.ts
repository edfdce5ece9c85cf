// Group commit for SQLite: the changes that arrive while one transaction runs go into the next one together, each
// inside its own savepoint. A change that fails is rolled back to its savepoint alone and its caller gets its error;
// the others commit together, and every caller hears of its outcome only after that commit. One BEGIN and one COMMIT
// (the commit writes the log frames of every page the group touched, once) instead of one of each per change: on
// SQLite, where one connection runs one transaction at a time anyway, that is where concurrent publishes spent
// their time. PostgreSQL runs concurrent transactions on its own connections and does not use this.
import { sql } from 'kysely';
import type { Db } from './database.ts';

interface Pending<T> {
  fn: (trx: Db) => Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class GroupCommit {
  private queue: Pending<unknown>[] = [];
  private running = false;

  /** `maxGroup`: at most this many changes in one transaction (a bound on how long readers wait for it). */
  constructor(
    private readonly db: Db,
    private readonly maxGroup = 32,
  ) {}

  /** Runs `fn` in a transaction shared with the changes queued beside it; resolves once that transaction committed. */
  run<T>(fn: (trx: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve, reject } as Pending<unknown>);
      if (!this.running) {
        this.running = true;
        // The changes that arrive while this turn of the event loop finishes join the first group.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const group = this.queue.splice(0, this.maxGroup);
        const outcomes: Outcome[] = [];
        try {
          await this.db.transaction().execute(async (t) => {
            const trx = t as unknown as Db;
            if (group.length === 1) {
              // Alone: no savepoint needed, a failure rolls the transaction back as it always did.
              outcomes.push({ ok: true, value: await group[0].fn(trx) });
              return;
            }
            for (const [i, p] of group.entries()) {
              await sql.raw(`savepoint wharf_group_${i}`).execute(trx);
              try {
                const value = await p.fn(trx);
                await sql.raw(`release savepoint wharf_group_${i}`).execute(trx);
                outcomes.push({ ok: true, value });
              } catch (error) {
                await sql.raw(`rollback to savepoint wharf_group_${i}`).execute(trx);
                await sql.raw(`release savepoint wharf_group_${i}`).execute(trx);
                outcomes.push({ ok: false, error });
              }
            }
          });
        } catch (error) {
          // The transaction itself failed (or the lone change did): nobody's change committed.
          for (const p of group) p.reject(error);
          continue;
        }
        group.forEach((p, i) => {
          const o = outcomes[i];
          if (o.ok) p.resolve(o.value);
          else p.reject(o.error);
        });
      }
    } finally {
      this.running = false;
    }
  }
}
