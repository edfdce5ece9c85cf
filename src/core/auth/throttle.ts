// Sign-in lockout: failed password checks per account and per client address back off exponentially, and while
// either is locked every password attempt is refused (429, Retry-After) before any scrypt hash, the right password
// included. Counters live in the database (`login_failures`) so every node sharing it enforces the same lockout.
//
// Policy (documented in docs/security.md and docs/performance.md):
//   account ('u:NAME'):    4 failures cost nothing; the 5th locks the account for 15 s, and each later one (made
//                          after a lock ended) for twice as long, at most 15 min: 15 s × 2^(n−5) ≤ 15 min.
//                          A streak ends 15 min after its last failure, or at a correct password.
//   address ('a:ADDRESS'): the same curve from the 30th failure (one office behind NAT shares an address); a correct
//                          password does not end it (else one valid account would reset it for guessing others).
//                          IPv6 addresses count per /64, the smallest block one host is given.
// Tokens never come here: a token carries ~178 random bits, so guessing one is hopeless, and a failed token lookup
// costs one SHA-256 and one indexed read. Counting invalid tokens would let a stale token in a CI config lock the
// people behind the same address out of password sign-in, and would add a write to every such request.
//
// The happy path writes nothing: rows are read through a cache that follows writes to `login_failures` on every
// node (db/changes.ts), so a correct password on an account without failures costs no query once warm.
import { isIPv4, isIPv6 } from 'node:net';
import { GenerationCache, scopedGeneration, type ChangeGeneration } from '../../db/changes.ts';
import type { Db } from '../../db/database.ts';
import type { LoginFailuresTable } from '../../db/tables.ts';
import { nowIso } from '../clock.ts';
import { tooManyRequests } from '../errors.ts';

export interface ThrottlePolicy {
  /** Failures in a streak that cost nothing; the `threshold`-th locks. */
  threshold: number;
  /** The first lock; each further failure doubles it. */
  baseMs: number;
  capMs: number;
  /** A streak ends this long after its last failure. */
  windowMs: number;
}

export const ACCOUNT_POLICY: ThrottlePolicy = { threshold: 5, baseMs: 15_000, capMs: 15 * 60_000, windowMs: 15 * 60_000 };
export const ADDRESS_POLICY: ThrottlePolicy = { threshold: 30, baseMs: 15_000, capMs: 15 * 60_000, windowMs: 15 * 60_000 };

/** How long a streak of `failures` locks under `policy` (0: not yet). */
export function lockMs(policy: ThrottlePolicy, failures: number): number {
  if (failures < policy.threshold) return 0;
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(failures - policy.threshold, 30));
}

/** The counter key of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64. */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return `a:${mapped[1]}`;
  if (isIPv4(ip)) return `a:${ip}`;
  if (!isIPv6(ip)) return `a:${ip.slice(0, 64)}`;
  const [head, tail = ''] = ip.toLowerCase().split('%')[0].split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return `a:${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

type Row = LoginFailuresTable;

/** What `check` read: handed back to `failed` / `succeeded`. */
export interface Attempt {
  account: string;
  address: string | null;
  /** The account had failures in its row (a success must clear them). */
  accountRow: boolean;
}

export class LoginThrottle {
  /** The clock (ms since the epoch); tests move it to the end of a lock. */
  now: () => number = Date.now;
  private readonly rows: GenerationCache<Row[]>;
  private lastPrune = 0;

  constructor(private readonly db: Db, changes: ChangeGeneration, readonly account = ACCOUNT_POLICY, readonly address = ADDRESS_POLICY) {
    this.rows = new GenerationCache(scopedGeneration(changes, ['login_failures']), 10_000);
  }

  /** Refuses (429 with Retry-After) while the account or the address is locked; else what the next steps need. */
  async check(userName: string, ip: string | undefined): Promise<Attempt> {
    const account = `u:${userName.toLowerCase().slice(0, 100)}`;
    const address = ip ? addressKey(ip) : null;
    const keys = address ? [account, address] : [account];
    const rows = await this.rows.get(keys.join('\n'), () => this.db.selectFrom('login_failures').selectAll().where('key', 'in', keys).execute());
    const now = this.now();
    let until = 0;
    for (const r of rows) if (r.locked_until) until = Math.max(until, Date.parse(r.locked_until));
    if (until > now) throw tooManyRequests('too many failed sign-ins: try again later', (until - now) / 1000);
    const cutoff = nowIso(now - this.account.windowMs);
    return { account, address, accountRow: rows.some((r) => r.key === account && r.last_failure_at > cutoff) };
  }

  /** Counts a wrong password against the account and the address, locking either when its streak is long enough. */
  async failed(a: Attempt): Promise<void> {
    await this.count(a.account, this.account);
    if (a.address) await this.count(a.address, this.address);
    await this.prune();
  }

  /** A correct password ends the account's streak (only when it had one: the usual sign-in writes nothing). */
  async succeeded(a: Attempt): Promise<void> {
    if (a.accountRow) await this.db.deleteFrom('login_failures').where('key', '=', a.account).execute();
  }

  private async count(key: string, policy: ThrottlePolicy): Promise<void> {
    const now = this.now();
    const at = nowIso(now);
    // One atomic statement per key, so failures seen by several nodes at once all count.
    const row = await this.db
      .insertInto('login_failures')
      .values({ key, failures: 1, last_failure_at: at, locked_until: null })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => ({
          failures: eb.case().when('login_failures.last_failure_at', '<=', nowIso(now - policy.windowMs)).then(1).else(eb('login_failures.failures', '+', 1)).end(),
          last_failure_at: at,
        })),
      )
      .returning('failures')
      .executeTakeFirstOrThrow();
    const ms = lockMs(policy, Number(row.failures));
    if (ms > 0) {
      const until = nowIso(now + ms);
      await this.db.updateTable('login_failures').set({ locked_until: until }).where('key', '=', key)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', until)])).execute();
    }
  }

  /** Streaks that ended go, at most once a minute per node (a failure is the only time this runs). */
  private async prune(): Promise<void> {
    const now = this.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    const cutoff = nowIso(now - Math.max(this.account.windowMs, this.address.windowMs));
    await this.db.deleteFrom('login_failures').where('last_failure_at', '<=', cutoff)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', nowIso(now))])).execute();
  }
}
