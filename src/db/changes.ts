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
//   - other nodes on PostgreSQL: after a relevant commit a node sends NOTIFY wharf_changes; every node
//     LISTENs. While its listening connection is down a node does not cache at all.
import type { DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings, CompiledQuery, Kysely } from 'kysely';
import type pg from 'pg';

/** Tables whose writes no read cache depends on. */
const IGNORED_TABLES = new Set(['downloads', 'webhook_deliveries', 'sessions', 'upload_sessions', 'uploads']);
/** Columns whose updates no read cache depends on (batched bookkeeping). */
const IGNORED_COLUMNS = new Set(['last_used_at', 'last_seen_at']);

export interface ChangeGeneration {
  /** The current generation; compare with the one a cached value was computed in. */
  current(): number;
}

export class Changes implements ChangeGeneration {
  private local = 0;
  private reliable = true;
  private otherProcesses: () => unknown = () => 0;
  private lastOther: unknown = 0;
  private lastCheck = -Infinity;
  /** Called after a relevant commit (PostgreSQL: NOTIFY the other nodes). */
  onLocalChange: () => void = () => {};

  current(): number {
    // Asking SQLite costs a few microseconds, and hot requests ask several times: at most once a millisecond.
    const now = performance.now();
    if (now - this.lastCheck >= 1) {
      this.lastCheck = now;
      const other = this.otherProcesses();
      if (other !== this.lastOther) {
        this.lastOther = other;
        this.local++;
      }
    }
    // Without a working change feed from other nodes nothing may be served from a cache.
    if (!this.reliable) return ++this.local;
    return this.local;
  }

  bump(): void {
    this.local++;
  }

  /** A committed local change: bumps, and tells other nodes. */
  committed(): void {
    this.local++;
    this.onLocalChange();
  }

  /** SQLite: `read` returns something that changes when another connection commits (PRAGMA data_version). */
  watchOtherProcesses(read: () => unknown): void {
    this.otherProcesses = read;
    this.lastOther = read();
  }

  setReliable(ok: boolean): void {
    this.reliable = ok;
    this.local++;
  }
}

/** Does this compiled statement write data a read cache may depend on? */
export function isRelevantWrite(query: CompiledQuery): boolean {
  const node = query.query as unknown as { kind: string; into?: TableRef; table?: TableRef; from?: { froms: TableRef[] }; updates?: { column: { column: { name: string } } }[] };
  switch (node.kind) {
    case 'SelectQueryNode':
      return false;
    case 'InsertQueryNode':
      return !IGNORED_TABLES.has(tableName(node.into));
    case 'UpdateQueryNode':
      if (IGNORED_TABLES.has(tableName(node.table))) return false;
      return !(node.updates?.length && node.updates.every((u) => IGNORED_COLUMNS.has(u.column?.column?.name)));
    case 'DeleteQueryNode':
      return !node.from?.froms.every((f) => IGNORED_TABLES.has(tableName(f)));
    default: {
      // Raw SQL and anything else: a write unless it plainly reads.
      const text = query.sql.trimStart().slice(0, 16).toLowerCase();
      return !(text.startsWith('select') || text.startsWith('pragma') || text.startsWith('show'));
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
  dirty = false;
  constructor(readonly inner: DatabaseConnection, private readonly changes: Changes) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const write = isRelevantWrite(query);
    try {
      return await this.inner.executeQuery<R>(query);
    } finally {
      if (write) {
        if (this.inTransaction) {
          this.dirty = true;
          // Readers of this node that ran after this statement but before the commit must not keep what they saw.
          this.changes.bump();
        } else this.changes.committed();
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
    oc.dirty = false;
  }
  async commitTransaction(c: DatabaseConnection) {
    const oc = c as ObservedConnection;
    try {
      await this.inner.commitTransaction(oc.inner);
    } finally {
      oc.inTransaction = false;
      if (oc.dirty) this.changes.committed();
      oc.dirty = false;
    }
  }
  async rollbackTransaction(c: DatabaseConnection) {
    const oc = c as ObservedConnection;
    try {
      await this.inner.rollbackTransaction(oc.inner);
    } finally {
      oc.inTransaction = false;
      if (oc.dirty) this.changes.bump();
      oc.dirty = false;
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
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let delay = 250;
  const start = async () => {
    if (stopped) return;
    const c = connect();
    c.on('error', () => {}); // reported through 'end'
    c.on('notification', () => changes.bump());
    c.on('end', () => {
      if (client === c) client = null;
      changes.setReliable(false);
      if (!stopped) timer = setTimeout(start, (delay = Math.min(delay * 2, 10_000)));
    });
    try {
      await c.connect();
      await c.query('LISTEN wharf_changes');
      client = c;
      delay = 250;
      changes.setReliable(true);
    } catch {
      changes.setReliable(false);
      await c.end().catch(() => {});
    }
  };
  changes.setReliable(false);
  void start();
  changes.onLocalChange = () => {
    pool.query("SELECT pg_notify('wharf_changes', '')").catch(() => changes.setReliable(false));
  };
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    const c = client;
    client = null;
    changes.onLocalChange = () => {};
    await c?.end().catch(() => {});
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
  constructor(private readonly changes: ChangeGeneration, private readonly maxEntries = 20_000) {}

  /** The cached value, or `load()`'s, cached when the generation did not move while loading. */
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const g = this.changes.current();
    if (g !== this.generation) {
      this.map.clear();
      this.generation = g;
    } else if (this.map.has(key)) return this.map.get(key)!;
    const value = await load();
    if (this.changes.current() === g && this.generation === g) {
      if (this.map.size >= this.maxEntries) this.map.delete(this.map.keys().next().value!);
      this.map.set(key, value);
    }
    return value;
  }
}
