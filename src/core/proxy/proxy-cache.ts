// The fetching side of pull-through proxies, the same for every format. A format's proxy routes map a request
// onto one of two verbs and say how to check what comes back:
//   - document(): a mutable document (npm packument, maven-metadata.xml, a tag, a compact-index file) kept in the
//     blob store and in `proxy_documents`, served while younger than the proxy's TTL, then revalidated with
//     If-None-Match / If-Modified-Since; when the upstream fails or is slow, the cached copy is served (and logged);
//   - file(): an immutable file (tarball, jar, layer, .gem, .nupkg) streamed from the upstream into the blob store
//     while hashing, verified by the format (its index's integrity), then recorded as an ordinary version with
//     that file, so search, the UI, download counts, retention and `wharf gc` see it like any other.
// Both coalesce: concurrent requests for the same thing share one upstream request. The fetch belongs to no
// client: one that disconnects leaves it running for the others (and for the cache).
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import type { Logger } from 'pino';
import type { Db } from '../../db/database.ts';
import { systemActor } from '../auth/actor.ts';
import type { BlobStore, ExtraDigest, Hashed, StagedBlob } from '../blobs/blob-store.ts';
import { nowIso } from '../clock.ts';
import { conflict, isWharfError, notFound, tooLarge, upstreamError } from '../errors.ts';
import type { FileRow, PackageRow, Packages } from '../model/packages.ts';
import type { Publisher } from '../publish.ts';
import type { ProxyConfig } from './proxies.ts';
import { DEFAULT_PREFETCH, Prefetcher } from './prefetch.ts';
import { basicOf, parseChallenge, UpstreamTokens } from './upstream-auth.ts';

export interface DocumentRef {
  digest: string;
  etag: string | null;
  lastModified: string | null;
  fetchedAt: string;
  /** Served from the cache because the upstream could not be asked (down, slow, a 5xx). */
  stale: boolean;
}

export interface DocumentRequest {
  /** The document's key within the proxy (npm: the package name). */
  key: string;
  url: string;
  accept: string;
  maxBytes: number;
  /** Throws (Invalid, Upstream) when the upstream's bytes may not be kept: hostile or broken documents. */
  check(bytes: Buffer): void;
  /** The Docker token scope the upstream may ask for (`repository:NAME:pull`). */
  scope?: string;
  /**
   * For a document made of several upstream answers (a paged list, an API with a fallback): fetches it whole, in
   * place of the single GET of `url` (no conditional revalidation then: every refresh fetches it all). Throws
   * NotFound when the upstream has none, Upstream when it failed (the cached copy serves then).
   */
  load?(): Promise<Buffer>;
}

/** The error for an upstream status a proxy cannot use; a 401/403 says that the proxy's own credentials were refused. */
export function statusError(status: number, what?: string): Error {
  const of = what ? ` for ${what}` : '';
  if (status === 401 || status === 403) {
    return upstreamError(`the upstream answered ${status}${of}: it refused the proxy's credentials (or wants some): check the proxy's username and password`);
  }
  return upstreamError(`the upstream answered ${status}${of}`);
}

export interface FileRequest {
  /** The package and version the file is recorded under, and the file's name. */
  type: string;
  packageName: string;
  version: string;
  fileName: string;
  contentType: string;
  url: string;
  maxSize: number;
  extraDigests: ExtraDigest[];
  /** The Docker token scope the upstream may ask for. */
  scope?: string;
  /** Throws when the content is not what the upstream's index declared: nothing is kept then. */
  verify(hashed: Hashed): void;
  /** The version's metadata as the format stores it, and what to merge into the package's. */
  metadata: unknown;
  packageMetadata?: Record<string, unknown>;
  /** Whether the file is its version's primary one (default true: one file per version, as npm's tarball). */
  primary?: boolean;
  /** The upstream's package names are case-sensitive (npm, Maven, RubyGems): see keptPackage(). */
  exactName?: boolean;
  /**
   * A reader the body passes through on its way to the store (a format's archive inspector, as for a push), and
   * what it found. Once the file is verified, `describe` turns that into the version's metadata (replacing
   * `metadata`); a failure of either refuses the file like a failed verify.
   */
  inspect?(): { through: Transform; result: Promise<unknown> };
  describe?(found: unknown, staged: StagedBlob): { metadata: unknown; packageMetadata?: Record<string, unknown> };
}

/** An immutable file the upstream keeps: fetched once, streamed into the store, verified, then recorded. */
export interface BlobRequest<T> {
  /** Concurrent requests with the same key share one fetch. */
  key: string;
  url: string;
  accept: string;
  /** The Docker token scope the upstream may ask for (`repository:NAME:pull`). */
  scope?: string;
  maxSize: number;
  extraDigests: ExtraDigest[];
  /** How the file is named in errors and logs. */
  what: string;
  /**
   * What is already kept, looked up again once this fetch owns the key (a fetch that just ended may have kept it),
   * or a refusal (NotFound: deleted here); undefined: fetch it.
   */
  existing?: () => Promise<T | undefined>;
  /** Follow the upstream's redirects, without credentials (content checked by `verify` against a digest known beforehand). */
  redirects?: boolean;
  /** Throws when the content is not what was declared: nothing is kept then. */
  verify(hashed: Hashed): void;
  /** A reader the body passes through on its way to the store; what it found is given to `record`. */
  inspect?(): { through: Transform; result: Promise<unknown> };
  /** Records the verified content (commits it, or cancels it when another copy is kept). */
  record(staged: StagedBlob, found?: unknown): Promise<T>;
}

/** Resolves after the I/O callbacks due now: background work starts once the answers in progress are sent. */
export const later = () => new Promise<void>((r) => setImmediate(r));

/** A fetch as its callers see it. */
export interface Fetching<T> {
  /**
   * The upstream's bytes as they arrive, for the caller whose request started the fetch (if it asked): its
   * response can begin at once. The stream fails if the content is refused; its end means verified (and, for an
   * inspected file, kept: a plain file is being kept as the client gets its last bytes).
   */
  live?: { body: Readable; size: number | null };
  /** What was kept, once verified and recorded: the same for every caller. */
  result: Promise<T>;
}

/** Resets an abort timer on every chunk: a body that stalls longer than the timeout fails, a slow steady one does not. */
function idleGuard(timeoutMs: number, abort: (e: Error) => void): Transform {
  let timer = setTimeout(() => abort(new Error('upstream stalled')), timeoutMs);
  return new Transform({
    transform(chunk, _enc, done) {
      timer.refresh();
      done(null, chunk);
    },
    flush(done) {
      clearTimeout(timer);
      done();
    },
    destroy(err, done) {
      clearTimeout(timer);
      done(err);
    },
  });
}

export class ProxyCache {
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Upstream requests made, by proxy name (for /metrics and the tests' counting). */
  readonly upstreamRequests = new Map<string, number>();
  private readonly tokens = new UpstreamTokens();
  /**
   * Documents fetched and checked whose copy is being kept (store()), by `owner|key`: served from memory until
   * their row is written, so that no request waits for the cache's own durability.
   */
  private readonly keeping = new Map<string, { ref: DocumentRef; bytes: Buffer; done: Promise<void> }>();
  /** Packages being created for a proxy in the background (ensurePackageSoon). */
  private readonly creating = new Map<string, Promise<unknown>>();
  /** What the formats' proxies fetch ahead of their clients (npm: a tree's packuments and tarballs). */
  readonly ahead: Prefetcher;

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly publisher: Publisher,
    private readonly packages: Packages,
    private readonly logger?: Logger,
  ) {
    this.ahead = new Prefetcher(DEFAULT_PREFETCH, logger);
  }

  /** Runs `fn` once for concurrent callers with the same key; its result or error goes to all of them. */
  coalesce<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running as Promise<T>;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /**
   * GETs `url` from the proxy's upstream with its credentials (Basic, or a bearer token for `scope` when the
   * upstream asks for Docker token authentication: upstream-auth.ts); fails with Upstream when no answer came within
   * the proxy's timeout (the body is then guarded by the same timeout between chunks, see body()).
   */
  async request(proxy: ProxyConfig, url: string, headers: Record<string, string> = {}, scope?: string, opts: { redirects?: boolean } = {}): Promise<{ res: Response; abort: AbortController }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${proxy.timeoutMs} ms`)), proxy.timeoutMs);
    const send = async (authorization: string | undefined) => {
      const h: Record<string, string> = { 'user-agent': 'Wharf-proxy', ...headers };
      if (authorization) h.authorization = authorization;
      this.upstreamRequests.set(proxy.name, (this.upstreamRequests.get(proxy.name) ?? 0) + 1);
      let res = await fetch(url, { headers: h, signal: abort.signal, redirect: 'manual' });
      // Content verified by its digest may come from wherever the upstream sends us (Docker Hub's layers are on a
      // CDN): such redirects are followed, without the credentials. Anything else is not (a document's
      // bytes are trusted because they come from the upstream itself).
      for (let hops = 0; opts.redirects && hops < 5 && [301, 302, 303, 307, 308].includes(res.status); hops++) {
        await res.body?.cancel().catch(() => {});
        let next: URL;
        try {
          next = new URL(res.headers.get('location') ?? '', res.url || url);
        } catch {
          throw upstreamError('the upstream redirected to an invalid URL');
        }
        if (next.protocol !== 'https:' && next.protocol !== 'http:') throw upstreamError('the upstream redirected to a URL that is not http(s)');
        const { authorization: _a, ...plain } = h;
        res = await fetch(next, { headers: plain, signal: abort.signal, redirect: 'manual' });
      }
      if (res.status >= 300 && res.status < 400 && res.status !== 304) {
        await res.body?.cancel().catch(() => {});
        throw upstreamError(`the upstream answered ${res.status} (redirects are not followed)`);
      }
      return res;
    };
    try {
      const token = this.tokens.cached(proxy, scope);
      let res = await send(token ? `Bearer ${token}` : basicOf(proxy));
      const challenge = res.status === 401 ? parseChallenge(res.headers.get('www-authenticate')) : undefined;
      if (challenge?.scheme === 'bearer') {
        await res.body?.cancel().catch(() => {});
        res = await send(`Bearer ${await this.tokens.fetch(proxy, challenge, scope, abort.signal)}`);
      }
      return { res, abort };
    } catch (e) {
      if (isWharfError(e)) throw e;
      // The URL and the reason, never the credentials (they are in headers, not in the URL: checkUpstream).
      throw upstreamError(`the upstream ${new URL(url).origin} could not be reached: ${(abort.signal.reason as Error)?.message ?? (e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The response body as a stream, failing when the upstream stalls for longer than the timeout. */
  private body(proxy: ProxyConfig, res: Response, abort: AbortController): Readable {
    if (!res.body) return Readable.from([]);
    const source = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    const guard = idleGuard(proxy.timeoutMs, (e) => {
      abort.abort(e);
      guard.destroy(upstreamError(`the upstream stalled for ${proxy.timeoutMs} ms`));
    });
    source.on('error', (e) => guard.destroy(isWharfError(e) ? e : upstreamError(`reading from the upstream failed: ${e.message}`)));
    return source.pipe(guard);
  }

  /** A response's whole body (for a format's load()), bounded by `maxBytes`, guarded like body(). */
  async readBody(proxy: ProxyConfig, res: Response, abort: AbortController, maxBytes: number): Promise<Buffer> {
    try {
      return await this.readAll(this.body(proxy, res, abort), maxBytes);
    } catch (e) {
      abort.abort(e); // too large or broken: the rest is not read
      throw e;
    }
  }

  private async readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of stream) {
      n += (c as Buffer).length;
      if (n > maxBytes) {
        stream.destroy();
        throw upstreamError(`the upstream's document is larger than ${maxBytes} bytes`);
      }
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** Resolves once every fetch (prefetches included), and every copy being kept, has ended. */
  async settle(): Promise<void> {
    while (this.inflight.size || this.keeping.size || this.creating.size || this.ahead.pending) {
      await Promise.allSettled([...this.inflight.values(), ...[...this.keeping.values()].map((k) => k.done), ...this.creating.values(), this.ahead.idle()]);
    }
  }

  /** Before the database closes: nothing more is fetched ahead, and what runs ends. */
  async close(): Promise<void> {
    await this.ahead.stop();
    await this.settle();
  }

  /** A cached document's bytes (documents are bounded by their request's maxBytes). */
  async read(digest: string): Promise<Buffer> {
    for (const k of this.keeping.values()) if (k.ref.digest === digest) return k.bytes;
    const chunks: Buffer[] = [];
    for await (const c of await this.blobs.open(digest)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** The document, from the cache while fresh, else revalidated or fetched (see the top of this file). */
  async document(proxy: ProxyConfig, req: DocumentRequest): Promise<DocumentRef> {
    const keeping = this.keeping.get(`${proxy.ownerId}|${req.key}`);
    if (keeping) return keeping.ref;
    const row = await this.db.selectFrom('proxy_documents').selectAll().where('owner_id', '=', proxy.ownerId).where('key', '=', req.key).executeTakeFirst();
    const cached = row ? { digest: row.blob_digest, etag: row.etag, lastModified: row.last_modified, fetchedAt: row.fetched_at, stale: false } : undefined;
    if (row && Date.parse(row.checked_at) + proxy.ttlSeconds * 1000 > Date.now()) return cached!;
    return this.coalesce(`doc|${proxy.ownerId}|${req.key}`, async () => {
      try {
        return await this.refresh(proxy, req, cached);
      } catch (e) {
        // The upstream is down, slow or broken: what is cached keeps serving. A 404 from it is an answer, not a failure.
        if (cached && isWharfError(e) && e.kind === 'Upstream') {
          this.logger?.warn({ proxy: proxy.name, key: req.key, reason: e.message, fetchedAt: cached.fetchedAt }, 'proxy: serving a stale document');
          return { ...cached, stale: true };
        }
        throw e;
      }
    });
  }

  private async refresh(proxy: ProxyConfig, req: DocumentRequest, cached: Omit<DocumentRef, 'stale'> | undefined): Promise<DocumentRef> {
    if (req.load) return this.store(proxy, req, await req.load(), null, null);
    const headers: Record<string, string> = { accept: req.accept };
    if (cached?.etag) headers['if-none-match'] = cached.etag;
    if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
    const { res, abort } = await this.request(proxy, req.url, headers, req.scope);
    const now = nowIso();
    if (res.status === 304 && cached) {
      await res.body?.cancel().catch(() => {});
      await this.db.updateTable('proxy_documents').set({ checked_at: now }).where('owner_id', '=', proxy.ownerId).where('key', '=', req.key).execute();
      return { ...cached, stale: false };
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel().catch(() => {});
      throw notFound(`${req.key} is not in the upstream registry`);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      // Its 401/403 is the proxy's misconfiguration, not the client's: a gateway error.
      throw statusError(res.status);
    }
    const bytes = await this.readAll(this.body(proxy, res, abort), req.maxBytes);
    return this.store(proxy, req, bytes, res.headers.get('etag'), res.headers.get('last-modified'));
  }

  /**
   * Checks a document's bytes and keeps them as the proxy's copy of `req.key`. The answer does not wait for the
   * copy to be durable: the document is served from memory until its row is written (a cache: should keeping
   * fail, it is logged and the next request asks the upstream again). Only a checked document is ever kept.
   */
  private store(proxy: ProxyConfig, req: DocumentRequest, bytes: Buffer, etag: string | null, lastModified: string | null): DocumentRef {
    req.check(bytes);
    const now = nowIso();
    const ref: DocumentRef = { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, etag, lastModified, fetchedAt: now, stale: false };
    const k = `${proxy.ownerId}|${req.key}`;
    const done = (async () => {
      await later(); // after the answer: its client is waiting, the copy is not
      const staged = await this.blobs.putBytes(bytes);
      await this.publisher.commitBlobs([staged]);
      const doc = { blob_digest: staged.digest, etag, last_modified: lastModified, fetched_at: now, checked_at: now };
      await this.db
        .insertInto('proxy_documents')
        .values({ owner_id: proxy.ownerId, key: req.key, ...doc })
        .onConflict((oc) => oc.columns(['owner_id', 'key']).doUpdateSet(doc))
        .execute();
    })()
      .catch((err) => this.logger?.warn({ err, proxy: proxy.name, key: req.key }, 'proxy: keeping a document failed (the next request fetches it again)'))
      .finally(() => {
        if (this.keeping.get(k)?.ref === ref) this.keeping.delete(k);
      });
    this.keeping.set(k, { ref, bytes, done });
    return ref;
  }

  /**
   * The proxy's package `name`, created with the proxy's visibility when missing (a package of a proxy is as
   * visible as its proxy: authorize() decides on the row like on any other).
   */
  async ensurePackage(proxy: ProxyConfig, type: string, name: string, exact = false) {
    const found = await this.keptPackage(proxy, type, name, exact);
    if (found) return found;
    await this.publisher.ensurePackage({ ownerId: proxy.ownerId, type, name, repositoryId: null, inheritAccess: false, visibility: proxy.visibility, actor: systemActor });
    return (await this.keptPackage(proxy, type, name, exact))!;
  }

  /**
   * The proxy's kept package `name`, if any. `exact`: the upstream's names are case-sensitive (npm's old
   * mixed-case names, Maven coordinates, gems), while Wharf holds one package per name whatever its case. A kept
   * package whose name differs only in case is another upstream package: refused (Conflict), never served, nor
   * added to, under this name.
   */
  async keptPackage(proxy: ProxyConfig, type: string, name: string, exact: boolean): Promise<PackageRow | undefined> {
    const pkg = await this.packages.find(proxy.name, type, name);
    if (pkg && exact && pkg.name !== name) {
      throw conflict(`the proxy ${proxy.name} keeps ${pkg.name}, whose name differs from ${name} only in case: it holds one package per name whatever its case, so ${name} cannot be served through it`);
    }
    return pkg;
  }

  /**
   * ensurePackage() without waiting for it, for a document served before its package is recorded (a packument
   * first seen: the package appears in search and the UI moments later). A failure is logged; the file fetches
   * that follow ensure the package again, and report it.
   */
  ensurePackageSoon(proxy: ProxyConfig, type: string, name: string, exact = false): void {
    const k = `${proxy.ownerId}|${type}|${name.toLowerCase()}`;
    if (this.creating.has(k)) return;
    const p = later()
      .then(() => this.ensurePackage(proxy, type, name, exact))
      .catch((err) => this.logger?.warn({ err, proxy: proxy.name, name }, 'proxy: recording a package failed'))
      .finally(() => this.creating.delete(k));
    this.creating.set(k, p);
  }

  /** The file, from the model when cached, else fetched, verified, stored and recorded (once, however many ask). */
  async file(proxy: ProxyConfig, req: FileRequest): Promise<FileRow> {
    const got = await this.fileLive(proxy, req, false);
    return 'cached' in got ? got.cached : got.result;
  }

  /**
   * file() for a download route: when this request starts the fetch and `live` is asked, the upstream's bytes
   * are handed over as they arrive (see Fetching); otherwise the cached file, or the fetch's result to wait for.
   */
  async fileLive(proxy: ProxyConfig, req: FileRequest, live: boolean): Promise<{ cached: FileRow } | Fetching<FileRow>> {
    const pkg = await this.ensurePackage(proxy, req.type, req.packageName, req.exactName);
    const have = await this.packages.file(pkg.id, req.version, req.fileName);
    if (have) return { cached: have };
    return this.fetchBlob(proxy, {
      existing: async () => {
        const f = await this.packages.file(pkg.id, req.version, req.fileName);
        if (f) return f;
        // Deleted in Wharf: it stays so (until restored), and the upstream is not asked for it again and again.
        if ((await this.packages.version(pkg.id, req.version, { includeDeleted: true }))?.deleted_at) throw notFound(`${req.packageName}@${req.version} was deleted here`);
        return undefined;
      },
      key: `file|${proxy.ownerId}|${req.type}|${req.packageName}|${req.version}|${req.fileName}`,
      url: req.url, accept: '*/*', scope: req.scope, maxSize: req.maxSize, extraDigests: req.extraDigests, what: req.fileName, verify: req.verify,
      inspect: req.inspect, record: (staged, found) => this.recordFile(proxy, pkg.id, req, staged, found),
    }, live);
  }

  private async recordFile(proxy: ProxyConfig, packageId: number, req: FileRequest, staged: StagedBlob, found: unknown): Promise<FileRow> {
    let described: { metadata: unknown; packageMetadata?: Record<string, unknown> } = { metadata: req.metadata, packageMetadata: req.packageMetadata };
    if (req.inspect && req.describe) {
      try {
        described = req.describe(found, staged);
      } catch (e) {
        await staged.cancel();
        this.logger?.warn({ proxy: proxy.name, file: req.fileName, reason: (e as Error).message }, 'proxy: refused what the upstream sent');
        throw e;
      }
    }
    const file = { name: req.fileName, blob: staged, contentType: req.contentType, primary: req.primary ?? true };
    try {
      await this.publisher.createVersion({
        ownerId: proxy.ownerId, type: req.type, name: req.packageName, version: req.version, metadata: described.metadata, packageMetadata: described.packageMetadata,
        files: [file], tags: [], repositoryId: null, actor: systemActor,
      });
    } catch (e) {
      if (!(isWharfError(e) && e.kind === 'Conflict')) {
        await staged.cancel();
        throw e;
      }
      // The version exists: recorded meanwhile by another node (that copy serves), or, in formats whose versions
      // have several files fetched one by one (a Maven pom and jar), a live version this file joins.
      const v = await this.packages.version(packageId, req.version);
      if (v && !(await this.packages.file(packageId, req.version, req.fileName))) {
        try {
          await this.publisher.addFiles(packageId, v.id, [file], [], systemActor);
        } catch (e2) {
          await staged.cancel();
          if (!(isWharfError(e2) && (e2.kind === 'Conflict' || e2.kind === 'NotFound'))) throw e2;
        }
      } else await staged.cancel();
    }
    const f = await this.packages.file(packageId, req.version, req.fileName);
    // The version exists but not this file: it was deleted in Wharf, and stays so.
    if (!f) throw notFound(`${req.packageName}@${req.version} was deleted here`);
    return f;
  }

  /**
   * Streams an immutable file from the upstream into the blob store while hashing it, has the format verify and
   * record it, once for concurrent callers with the same key. The fetch belongs to no client: the caller that
   * started it may read along (`live`), and its disconnecting stops only its own copy, never the fetch.
   */
  async fetchBlob<T>(proxy: ProxyConfig, req: BlobRequest<T>, live: boolean): Promise<Fetching<T>> {
    const running = this.inflight.get(req.key);
    if (running) return { result: running as Promise<T> };
    let started!: (l: Fetching<T>['live']) => void;
    let failed!: (e: unknown) => void;
    const head = new Promise<Fetching<T>['live']>((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    const result = (async () => {
      let tee: LiveTee | undefined;
      let source: Readable;
      let declared: number;
      try {
        // Kept meanwhile (a fetch that ended between the caller's look and this one): no need to ask again.
        const have = await req.existing?.();
        if (have !== undefined) {
          started(undefined);
          return have;
        }
        const { res, abort } = await this.request(proxy, req.url, { accept: req.accept }, req.scope, { redirects: req.redirects });
        if (res.status === 404 || res.status === 410) {
          await res.body?.cancel().catch(() => {});
          throw notFound(`${req.what} is not in the upstream registry`);
        }
        if (res.status !== 200) {
          await res.body?.cancel().catch(() => {});
          throw statusError(res.status, req.what);
        }
        declared = Number(res.headers.get('content-length') ?? NaN);
        if (declared > req.maxSize) {
          abort.abort();
          throw tooLarge(`${req.what} is larger than ${req.maxSize} bytes`);
        }
        source = this.body(proxy, res, abort);
      } catch (e) {
        failed(e);
        throw e;
      }
      if (live) tee = new LiveTee();
      started(tee ? { body: tee.live, size: Number.isSafeInteger(declared) ? declared : null } : undefined);
      let input: Readable = source;
      if (tee) {
        source.on('error', (e) => tee!.destroy(e));
        input = source.pipe(tee);
      }
      const inspector = req.inspect?.();
      if (inspector) {
        inspector.result.catch(() => {});
        const before = input;
        before.on('error', (e) => inspector.through.destroy(e));
        input = before.pipe(inspector.through);
      }
      // Without an inspector, the content is whole once hashed: verified then, the reading client gets its last
      // bytes before the store makes them durable and records them (its copy does not depend on the cache's; a
      // failure after that leaves nothing cached, and the next request fetches again).
      const early = tee && !inspector
        ? (h: Hashed) => {
            try {
              req.verify(h);
            } catch {
              return; // refused below, by the same verify on what was staged
            }
            tee!.release();
          }
        : undefined;
      let staged: StagedBlob;
      try {
        staged = await this.blobs.put(input, { maxSize: req.maxSize, extraDigests: req.extraDigests, hashed: early });
      } catch (e) {
        // The inspector refusing the upstream's bytes (a client's error for a push) is the upstream's fault here.
        const err = !inspector || (isWharfError(e) && (e.kind === 'Upstream' || e.kind === 'TooLarge')) ? e : upstreamError(`the upstream's ${req.what} could not be read: ${(e as Error).message}`);
        if (err !== e) this.logger?.warn({ proxy: proxy.name, file: req.what, reason: (e as Error).message }, 'proxy: refused what the upstream sent');
        tee?.fail(err as Error);
        throw err;
      }
      let found: unknown;
      try {
        req.verify(staged);
        if (inspector) {
          found = await inspector.result.catch((e: Error) => {
            throw upstreamError(`the upstream's ${req.what} could not be read: ${e.message}`);
          });
        }
      } catch (e) {
        await staged.cancel();
        tee?.fail(e as Error);
        this.logger?.warn({ proxy: proxy.name, file: req.what, reason: (e as Error).message }, 'proxy: refused what the upstream sent');
        throw e;
      }
      let out: T;
      try {
        out = await req.record(staged, found);
      } catch (e) {
        tee?.fail(e as Error);
        throw e;
      }
      // Verified and kept (an inspected file): the reading client gets its last bytes, held back until now so that
      // it never completes a refused file. release() is idempotent (done already when verified early).
      tee?.release();
      return out;
    })();
    this.inflight.set(req.key, result);
    // Every caller awaits `result` (or `head`) itself; these only keep an unawaited failure from being unhandled.
    result.finally(() => this.inflight.delete(req.key)).catch(() => {});
    return { live: await head, result };
  }
}

/**
 * Copies what flows to the store to the reading client, paced by that client while it reads (the store waits
 * for a slow client rather than buffering for it) and not at all once it is gone. The last chunk is held back
 * until the content is verified: a client never receives a complete file that was refused.
 */
class LiveTee extends Transform {
  readonly live = new PassThrough({ highWaterMark: 1024 * 1024 });
  private held: Buffer | undefined;
  private gone = false;
  private released = false;

  constructor() {
    super();
    this.live.on('close', () => (this.gone = true));
    this.live.on('error', () => (this.gone = true));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, c?: Buffer) => void): void {
    const prev = this.held;
    this.held = chunk;
    if (!prev || this.gone || this.live.write(prev)) return done(null, chunk);
    const go = () => {
      this.live.off('drain', go);
      this.live.off('close', go);
      done(null, chunk);
    };
    this.live.on('drain', go);
    this.live.on('close', go);
  }

  /** The content was verified: the client gets the rest (once; later calls do nothing). */
  release(): void {
    if (this.gone || this.released) return;
    this.released = true;
    if (this.held) this.live.end(this.held);
    else this.live.end();
  }

  /** The content was refused or could not be stored: the client's response is cut short. */
  fail(e: Error): void {
    if (!this.gone && !this.released) this.live.destroy(e);
  }
}
