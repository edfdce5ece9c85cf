// A change generation for read caches: a number that moves whenever committed data that caches derive from may
// have changed, on this node or any other. Hot read paths (token → actor, package lookups, roles, file lookups)
// cache their answers under the generation they were computed in, and drop them when it moves.
//
// Where the moves come from:
//   - this process: every commit of a transaction that wrote, and every write outside a transaction, bumps it
//     once the write is committed (a wrapped Kysely driver sees each statement; writes that no cache reads,
//     like download counters and delivery logs, are ignored);
//   - other processes on the same SQLite file (the CLI, while the server runs): `PRAGMA data_version`
//     changes when another connection commits (checked at most once a millisecond);
//   - other nodes on PostgreSQL: after a relevant commit a node sends NOTIFY wharf_changes naming the tables it
//     wrote; every node LISTENs. While its listening connection is down a node does not cache at all.
// Besides the whole generation, a cache may follow a scoped one (Changes.scoped) that moves only with writes to the
// tables it reads, and with any write whose tables are not known (raw SQL, another process on the SQLite file).
import type { DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings, CompiledQuery, Kysely } from 'kysely';
import type pg from 'pg';
import { cacheStats, type CacheStats } from '../core/stats.ts';

/** Tables whose writes no read cache depends on. */
const IGNORED_TABLES = new Set(['downloads', 'webhook_deliveries', 'sessions', 'upload_sessions', 'uploads', 'job_leases', 'blob_writes', 'proxy_documents']);
/** Columns whose updates no read cache depends on (batched bookkeeping). */
const IGNORED_COLUMNS = new Set(['last_used_at', 'last_seen_at']);

export interface ChangeGeneration {
  /** The current generation; compare with the one a cached value was computed in. */
  current(): number;
}

/** Tables written by a change; null when they are not known (raw SQL, another process): every table. */
export type ChangedTables = Iterable<string> | null;

export class Changes implements ChangeGeneration {
  /** Moves with every change. */
  private local = 0;
  /** Moves with changes whose tables are not known: every scoped generation moves with it. */
  private epoch = 0;
  private readonly tables = new Map<string, number>();
  private reliable = true;
  private otherProcesses: () => unknown = () => 0;
  private lastOther: unknown = 0;
  private lastCheck = -Infinity;
  /** Called after a relevant commit (PostgreSQL: NOTIFY the other nodes of the tables it wrote). */
  onLocalChange: (tables: string[] | null) => void = () => {};

  current(): number {
    this.checkOtherProcesses();
    // Without a working change feed from other nodes nothing may be served from a cache.
    if (!this.reliable) return ++this.local;
    return this.local;
  }

  /**
   * A generation that moves only with changes to `tables` (or changes whose tables are unknown): for caches of
   * rows read from those tables alone, so that, say, publishing does not empty the token cache. `tables` must name
   * every table whose writes can change those rows, including writes that reach them through a foreign-key cascade
   * (a deleted owner or repository deletes its tokens: only the owners or repositories statement is seen).
   */
  scoped(tables: string[]): ChangeGeneration {
    return {
      current: () => {
        this.checkOtherProcesses();
        if (!this.reliable) return ++this.epoch;
        let g = this.epoch;
        for (const t of tables) g += this.tables.get(t) ?? 0;
        return g;
      },
    };
  }

  private checkOtherProcesses() {
    // Asking SQLite costs a few microseconds, and hot requests ask several times: at most once a millisecond.
    const now = performance.now();
    if (now - this.lastCheck >= 1) {
      this.lastCheck = now;
      const other = this.otherProcesses();
      if (other !== this.lastOther) {
        this.lastOther = other;
        this.bump(null); // another connection committed: which tables is not known
      }
    }
  }

  bump(tables: ChangedTables = null): void {
    this.local++;
    if (tables === null) this.epoch++;
    else for (const t of tables) this.tables.set(t, (this.tables.get(t) ?? 0) + 1);
  }

  /** A committed local change: bumps, and tells other nodes. */
  committed(tables: ChangedTables = null): void {
    const list = tables === null ? null : [...tables];
    this.bump(list);
    this.onLocalChange(list);
  }

  /** SQLite: `read` returns something that changes when another connection commits (PRAGMA data_version). */
  watchOtherProcesses(read: () => unknown): void {
    this.otherProcesses = read;
    this.lastOther = read();
  }

  setReliable(ok: boolean): void {
    this.reliable = ok;
    this.bump(null);
  }
}

/** Wraps `changes` in a generation scoped to `tables` when it can be (a plain ChangeGeneration is kept whole). */
export function scopedGeneration(changes: ChangeGeneration, tables: string[]): ChangeGeneration {
  return changes instanceof Changes ? changes.scoped(tables) : changes;
}

/** Does this compiled statement write data a read cache may depend on? */
export function isRelevantWrite(query: CompiledQuery): boolean {
  const t = writtenTables(query);
  return t === null || t.length > 0;
}

/**
 * The tables this statement writes that a read cache may depend on: [] for reads and for writes no cache reads
 * (counters, bookkeeping), null when not known (raw SQL that is not plainly a read: every table).
 */
export function writtenTables(query: CompiledQuery): string[] | null {
  const node = query.query as unknown as { kind: string; into?: TableRef; table?: TableRef; from?: { froms: TableRef[] }; updates?: { column: { column: { name: string } } }[] };
  const known = (names: string[]) => (names.some((n) => n === '') ? null : names.filter((n) => !IGNORED_TABLES.has(n)));
  switch (node.kind) {
    case 'SelectQueryNode':
      return [];
    case 'InsertQueryNode':
      return known([tableName(node.into)]);
    case 'UpdateQueryNode':
      if (node.updates?.length && node.updates.every((u) => IGNORED_COLUMNS.has(u.column?.column?.name))) return [];
      return known([tableName(node.table)]);
    case 'DeleteQueryNode':
      return known((node.from?.froms ?? []).map(tableName));
    default: {
      // Raw SQL and anything else: a write (of unknown tables) unless it plainly reads.
      const text = query.sql.trimStart().slice(0, 16).toLowerCase();
      return text.startsWith('select') || text.startsWith('pragma') || text.startsWith('show') ? [] : null;
    }
  }
}

type TableRef = { kind?: string; table?: { identifier?: { name?: string } }; node?: TableRef } | undefined;

function tableName(ref: TableRef): string {
  if (!ref) return '';
  if (ref.kind === 'AliasNode') return tableName(ref.node);
  return ref.table?.identifier?.name ?? '';
}

/** Wraps a dialect so that every relevant committed write bumps `changes`. */
export function observedDialect(inner: Dialect, changes: Changes, beforeDestroy: () => Promise<void> = async () => {}): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db: Kysely<any>) => inner.createIntrospector(db), // eslint-disable-line @typescript-eslint/no-explicit-any
    createDriver: () => new ObservedDriver(inner.createDriver(), changes, beforeDestroy),
  };
}

class ObservedConnection implements DatabaseConnection {
  inTransaction = false;
  /** Tables written by the open transaction; null once one of unknown tables was written. */
  dirty: Set<string> | null = new Set();
  constructor(readonly inner: DatabaseConnection, private readonly changes: Changes) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const tables = writtenTables(query);
    try {
      return await this.inner.executeQuery<R>(query);
    } finally {
      if (tables === null || tables.length) {
        if (this.inTransaction) {
          if (tables === null) this.dirty = null;
          else if (this.dirty) for (const t of tables) this.dirty.add(t);
          // Readers of this node that ran after this statement but before the commit must not keep what they saw.
          this.changes.bump(tables);
        } else this.changes.committed(tables);
      }
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class ObservedDriver implements Driver {
  constructor(private readonly inner: Driver, private readonly changes: Changes, private readonly beforeDestroy: () => Promise<void>) {}

  init() {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new ObservedConnection(await this.inner.acquireConnection(), this.changes);
  }
  async beginTransaction(c: DatabaseConnection, settings: TransactionSettings) {
    const oc = c as ObservedConnection;
    await this.inner.beginTransaction(oc.inner, settings);
    oc.inTransaction = true;
    oc.dirty = new Set();
  }
  async commitTransaction(c: DatabaseConnection) {
    const oc = c as ObservedConnection;
    try {
      await this.inner.commitTransaction(oc.inner);
    } finally {
      oc.inTransaction = false;
      if (oc.dirty === null || oc.dirty.size) this.changes.committed(oc.dirty);
      oc.dirty = new Set();
    }
  }
  async rollbackTransaction(c: DatabaseConnection) {
    const oc = c as ObservedConnection;
    try {
      await this.inner.rollbackTransaction(oc.inner);
    } finally {
      oc.inTransaction = false;
      if (oc.dirty === null || oc.dirty.size) this.changes.bump(oc.dirty);
      oc.dirty = new Set();
    }
  }
  releaseConnection(c: DatabaseConnection) {
    return this.inner.releaseConnection((c as ObservedConnection).inner);
  }
  async destroy() {
    await this.beforeDestroy();
    await this.inner.destroy();
  }
}

/**
 * PostgreSQL: LISTEN for other nodes' changes on a dedicated connection, NOTIFY them of ours. Caching is off
 * while the listening connection is down; it reconnects with backoff. Returns a function that stops it.
 */
export function listenForChanges(changes: Changes, pool: pg.Pool, connect: () => pg.Client): () => Promise<void> {
  let client: pg.Client | null = null;
  /** A connection still connecting: stopping must end it too (else it keeps a CLI process alive). */
  let pending: pg.Client | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let delay = 250;
  const start = async () => {
    if (stopped) return;
    const c = connect();
    c.on('error', () => {}); // reported through 'end'
    // The payload names the tables the other node's commit wrote; empty: not known, every table.
    c.on('notification', (msg) => changes.bump(msg.payload ? msg.payload.split(',') : null));
    c.on('end', () => {
      if (client === c) client = null;
      changes.setReliable(false);
      if (!stopped) timer = setTimeout(start, (delay = Math.min(delay * 2, 10_000)));
    });
    pending = c;
    try {
      await c.connect();
      await c.query('LISTEN wharf_changes');
      if (stopped) {
        await c.end().catch(() => {});
        return;
      }
      client = c;
      delay = 250;
      changes.setReliable(true);
    } catch {
      changes.setReliable(false);
      await c.end().catch(() => {});
    } finally {
      if (pending === c) pending = null;
    }
  };
  changes.setReliable(false);
  void start();
  changes.onLocalChange = (tables) => {
    // NOTIFY payloads stop at 8000 bytes: a long list is sent as "every table".
    const payload = tables === null ? '' : tables.join(',');
    pool.query("SELECT pg_notify('wharf_changes', $1)", [payload.length < 7000 ? payload : '']).catch(() => changes.setReliable(false));
  };
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    const open = [client, pending];
    client = null;
    pending = null;
    changes.onLocalChange = () => {};
    await Promise.all(open.map((c) => c?.end().catch(() => {})));
  };
}

/** For readers inside a transaction, which must see its own uncommitted writes: every call is a new generation. */
export const UNCACHED: ChangeGeneration = (() => {
  let n = 0;
  return { current: () => ++n };
})();

/** A cache of values valid for one change generation (bounded; cleared when the generation moves). */
export class GenerationCache<V> {
  private readonly map = new Map<string, V>();
  private generation = -1;
  private readonly stats: CacheStats;
  /** `name`: the cache kind its hits and misses count under in /metrics. */
  constructor(private readonly changes: ChangeGeneration, private readonly maxEntries = 20_000, name = 'other') {
    this.stats = cacheStats(name);
  }

  /** The cached value, or `load()`'s, cached when the generation did not move while loading. */
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const g = this.changes.current();
    if (g !== this.generation) {
      this.map.clear();
      this.generation = g;
    } else if (this.map.has(key)) {
      this.stats.hits++;
      return this.map.get(key)!;
    }
    this.stats.misses++;
    const value = await load();
    if (this.changes.current() === g && this.generation === g) {
      if (this.map.size >= this.maxEntries) this.map.delete(this.map.keys().next().value!);
      this.map.set(key, value);
    }
    return value;
  }
}
