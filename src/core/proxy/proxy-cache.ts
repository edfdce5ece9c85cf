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
import { Readable, Transform } from 'node:stream';
import type { Logger } from 'pino';
import type { Db } from '../../db/database.ts';
import { systemActor } from '../auth/actor.ts';
import type { BlobStore, ExtraDigest, StagedBlob } from '../blobs/blob-store.ts';
import { nowIso } from '../clock.ts';
import { isWharfError, notFound, tooLarge, upstreamError } from '../errors.ts';
import type { FileRow, Packages } from '../model/packages.ts';
import type { Publisher } from '../publish.ts';
import type { ProxyConfig } from './proxies.ts';

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
  /** Throws when the content is not what the upstream's index declared: nothing is kept then. */
  verify(staged: StagedBlob): void;
  /** The version's metadata as the format stores it, and what to merge into the package's. */
  metadata: unknown;
  packageMetadata?: Record<string, unknown>;
  /** Whether the file is its version's primary one (default true: one file per version, as npm's tarball). */
  primary?: boolean;
  /**
   * A reader the body passes through on its way to the store (a format's archive inspector, as for a push), and
   * what it found. Once the file is verified, `describe` turns that into the version's metadata (replacing
   * `metadata`); a failure of either refuses the file like a failed verify.
   */
  inspect?(): { through: Transform; result: Promise<unknown> };
  describe?(found: unknown, staged: StagedBlob): { metadata: unknown; packageMetadata?: Record<string, unknown> };
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

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly publisher: Publisher,
    private readonly packages: Packages,
    private readonly logger?: Logger,
  ) {}

  /** Runs `fn` once for concurrent callers with the same key; its result or error goes to all of them. */
  coalesce<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running as Promise<T>;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /**
   * GETs `url` from the proxy's upstream with its credentials; fails with Upstream when no answer came within the
   * proxy's timeout (the body is then guarded by the same timeout between chunks, see body()).
   */
  async request(proxy: ProxyConfig, url: string, headers: Record<string, string> = {}): Promise<{ res: Response; abort: AbortController }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${proxy.timeoutMs} ms`)), proxy.timeoutMs);
    const h: Record<string, string> = { 'user-agent': 'Wharf-proxy', ...headers };
    if (proxy.username) h.authorization = `Basic ${Buffer.from(`${proxy.username}:${proxy.password ?? ''}`).toString('base64')}`;
    this.upstreamRequests.set(proxy.name, (this.upstreamRequests.get(proxy.name) ?? 0) + 1);
    try {
      // Redirects are followed only within the upstream's origin: credentials never go elsewhere.
      const res = await fetch(url, { headers: h, signal: abort.signal, redirect: 'manual' });
      if (res.status >= 300 && res.status < 400 && res.status !== 304) {
        await res.body?.cancel().catch(() => {});
        throw upstreamError(`the upstream answered ${res.status} (redirects are not followed)`);
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

  /** A cached document's bytes (documents are bounded by their request's maxBytes). */
  async read(digest: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await this.blobs.open(digest)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** The document, from the cache while fresh, else revalidated or fetched (see the top of this file). */
  async document(proxy: ProxyConfig, req: DocumentRequest): Promise<DocumentRef> {
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
    const headers: Record<string, string> = { accept: req.accept };
    if (cached?.etag) headers['if-none-match'] = cached.etag;
    if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
    const { res, abort } = await this.request(proxy, req.url, headers);
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
      throw upstreamError(`the upstream answered ${res.status}`);
    }
    const bytes = await this.readAll(this.body(proxy, res, abort), req.maxBytes);
    req.check(bytes);
    const staged = await this.blobs.putBytes(bytes);
    await this.publisher.commitBlobs([staged]);
    const doc = { blob_digest: staged.digest, etag: res.headers.get('etag'), last_modified: res.headers.get('last-modified'), fetched_at: now, checked_at: now };
    await this.db
      .insertInto('proxy_documents')
      .values({ owner_id: proxy.ownerId, key: req.key, ...doc })
      .onConflict((oc) => oc.columns(['owner_id', 'key']).doUpdateSet(doc))
      .execute();
    return { digest: doc.blob_digest, etag: doc.etag, lastModified: doc.last_modified, fetchedAt: now, stale: false };
  }

  /**
   * The proxy's package `name`, created with the proxy's visibility when missing (a package of a proxy is as
   * visible as its proxy: authorize() decides on the row like on any other).
   */
  async ensurePackage(proxy: ProxyConfig, type: string, name: string) {
    const found = await this.packages.find(proxy.name, type, name);
    if (found) return found;
    await this.publisher.ensurePackage({ ownerId: proxy.ownerId, type, name, repositoryId: null, inheritAccess: false, visibility: proxy.visibility, actor: systemActor });
    return (await this.packages.find(proxy.name, type, name))!;
  }

  /** The file, from the model when cached, else fetched, verified, stored and recorded (once, however many ask). */
  async file(proxy: ProxyConfig, req: FileRequest): Promise<FileRow> {
    const pkg = await this.ensurePackage(proxy, req.type, req.packageName);
    const have = await this.packages.file(pkg.id, req.version, req.fileName);
    if (have) return have;
    return this.coalesce(`file|${proxy.ownerId}|${req.type}|${req.packageName}|${req.version}|${req.fileName}`, () => this.fetchFile(proxy, pkg.id, req));
  }

  private async fetchFile(proxy: ProxyConfig, packageId: number, req: FileRequest): Promise<FileRow> {
    const { res, abort } = await this.request(proxy, req.url, { accept: '*/*' });
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel().catch(() => {});
      throw notFound(`${req.fileName} is not in the upstream registry`);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw upstreamError(`the upstream answered ${res.status} for ${req.fileName}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > req.maxSize) {
      abort.abort();
      throw tooLarge(`${req.fileName} is larger than ${req.maxSize} bytes`);
    }
    const source = this.body(proxy, res, abort);
    const inspector = req.inspect?.();
    if (inspector) {
      inspector.result.catch(() => {});
      source.on('error', (e) => inspector.through.destroy(e));
    }
    const staged = await this.blobs.put(inspector ? source.pipe(inspector.through) : source, { maxSize: req.maxSize, extraDigests: req.extraDigests }).catch((e: Error) => {
      // The inspector refusing the upstream's bytes (a client's error for a push) is the upstream's fault here.
      if (!inspector || (isWharfError(e) && (e.kind === 'Upstream' || e.kind === 'TooLarge'))) throw e;
      this.logger?.warn({ proxy: proxy.name, file: req.fileName, reason: e.message }, 'proxy: refused what the upstream sent');
      throw upstreamError(`the upstream's ${req.fileName} could not be read: ${e.message}`);
    });
    let described: { metadata: unknown; packageMetadata?: Record<string, unknown> } = { metadata: req.metadata, packageMetadata: req.packageMetadata };
    try {
      req.verify(staged);
      if (inspector && req.describe) {
        const found = await inspector.result.catch((e: Error) => {
          throw upstreamError(`the upstream's ${req.fileName} could not be read: ${e.message}`);
        });
        described = req.describe(found, staged);
      }
    } catch (e) {
      await staged.cancel();
      this.logger?.warn({ proxy: proxy.name, file: req.fileName, reason: (e as Error).message }, 'proxy: refused what the upstream sent');
      throw e;
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
}
