// Maven pull-through proxies (core/proxy): a Maven proxy NAME is a repository at /maven/NAME/ holding every
// artifact of its upstream (Maven Central, another Wharf, any Maven 2 layout repository), in the same layout.
//   - maven-metadata.xml (artifact and SNAPSHOT version level) is a mutable document: kept, served while younger
//     than the proxy's TTL, revalidated with the upstream's ETag/Last-Modified, served stale when it is down;
//   - every other file (pom, jar, sources, a timestamped SNAPSHOT build) is immutable: fetched once, kept only
//     when its bytes match the upstream's own `.sha256` (else `.sha1`), then an ordinary file of the package
//     `groupId:artifactId` at that version;
//   - checksum files are never fetched for their own sake: they are computed from what was verified and kept.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Hashed } from '../../core/blobs/blob-store.ts';
import type { Core } from '../../core/core.ts';
import { isWharfError, notFound, unauthorized, upstreamError } from '../../core/errors.ts';
import type { FileRow, PackageRow } from '../../core/model/packages.ts';
import type { ProxyConfig } from '../../core/proxy/proxies.ts';
import { sendBlob } from '../../http/blob-reply.ts';
import { packageName, parseChecksumBody, parseFileName, parseMavenPath, type ChecksumAlgo, type MavenPath } from './coordinates.ts';
import { MAX_METADATA, parseXml } from './pom.ts';

const TYPE = 'maven';
/** The largest checksum file read from the upstream (a hex digest and perhaps a file name). */
const MAX_CHECKSUM = 1024;

const CONTENT_TYPES: Record<string, string> = {
  pom: 'application/xml', xml: 'application/xml', jar: 'application/java-archive', war: 'application/java-archive',
  module: 'application/json', json: 'application/json', asc: 'text/plain', txt: 'text/plain',
};
const contentTypeOf = (file: string) => CONTENT_TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream';

/**
 * Checks an upstream's maven-metadata.xml before it is kept: well-formed XML without DTDs, with a <metadata>
 * root, no larger than Wharf's own limit. Anything else is the upstream's fault (Upstream, a 502).
 */
export function checkUpstreamMetadata(bytes: Buffer): void {
  if (bytes.length > MAX_METADATA) throw upstreamError(`the upstream's maven-metadata.xml is larger than ${MAX_METADATA} bytes`);
  let doc: Record<string, unknown>;
  try {
    doc = parseXml(bytes, "the upstream's maven-metadata.xml");
  } catch (e) {
    throw upstreamError(isWharfError(e) ? e.message : "the upstream's maven-metadata.xml is not XML");
  }
  if (!('metadata' in doc)) throw upstreamError("the upstream's maven-metadata.xml has no <metadata> element");
}

/** The hex digest in an upstream checksum file, or Upstream (502) when it holds none. */
export function parseUpstreamChecksum(bytes: Buffer, algo: 'sha1' | 'sha256'): string {
  try {
    return parseChecksumBody(bytes.toString('latin1'), algo);
  } catch {
    throw upstreamError(`the upstream's .${algo} file holds no ${algo} checksum`);
  }
}

type FilePath = Extract<MavenPath, { kind: 'file' }>;

export class MavenProxy {
  /** Checksums of cached metadata documents, by blob digest (documents are small; a bounded map). */
  private readonly sums = new Map<string, Record<ChecksumAlgo, string>>();

  constructor(private readonly core: Core) {}

  /** The proxy named by the first segment below /maven/, if it is a Maven proxy. */
  async proxyOf(segments: string[]): Promise<ProxyConfig | undefined> {
    if (segments.length < 2) return undefined;
    const p = await this.core.proxies.byName(segments[0]);
    return p && p.format === TYPE ? p : undefined;
  }

  /**
   * Read access to the proxy's package, decided by authorize() on its row, or — before a first fetch made one —
   * on the row it will be (the proxy's owner and visibility): a private proxy never fetches for strangers.
   * Anonymous clients get the challenge (Maven sends credentials only after a 401).
   */
  private async allowRead(actor: Actor, proxy: ProxyConfig, name: string): Promise<PackageRow | undefined> {
    const pkg = await this.core.proxyCache.keptPackage(proxy, TYPE, name, true);
    const ref = pkg ?? { id: 0, owner_id: proxy.ownerId, visibility: proxy.visibility, repository_id: null, inherit_access: 0, type: TYPE, name };
    const missing = () => (actor.kind === 'anonymous' ? unauthorized('authentication required') : notFound('not found'));
    await this.core.authz.authorizeFound(actor, 'read', ref, missing);
    return pkg;
  }

  /** Answers a GET or HEAD below /maven/PROXY/ (the path after the proxy's name, already split). */
  async serve(req: FastifyRequest, reply: FastifyReply, proxy: ProxyConfig, rest: string[]): Promise<FastifyReply> {
    const p = parseMavenPath(rest);
    const name = packageName(p.groupId, p.artifactId);
    const pkg = await this.allowRead(req.actor, proxy, name);
    const rel = rest.join('/');
    const head = req.method === 'HEAD';
    if (p.kind !== 'file') return this.metadata(reply, proxy, p, rel, head);
    let f = pkg ? await this.core.packages.file(pkg.id, p.version, p.file) : undefined;
    // Cached: served without asking the upstream anything (it may be down).
    if (!f) f = await this.fetch(proxy, p, name, p.checksum ? rel.slice(0, -(p.checksum.length + 1)) : rel);
    if (p.checksum) {
      const hex = await this.fileDigest(f, p.checksum);
      return reply.type('text/plain').header('content-length', hex.length).send(head ? undefined : hex);
    }
    reply.type(f.content_type).header('etag', `"${f.blob_digest.slice(7)}"`).header('x-checksum-sha256', f.blob_digest.slice(7));
    if (f.sha1) reply.header('x-checksum-sha1', f.sha1);
    if (head) return reply.header('content-length', f.size).send();
    if (req.headers['if-none-match'] === `"${f.blob_digest.slice(7)}"`) return reply.code(304).send();
    if (p.file.endsWith('.pom')) this.core.downloads.record(f.version_id);
    return sendBlob(this.core, reply, { digest: f.blob_digest, size: f.size }, { redirect: true });
  }

  /** maven-metadata.xml (or its checksum) as the upstream has it, through the document cache. */
  private async metadata(reply: FastifyReply, proxy: ProxyConfig, p: Exclude<MavenPath, FilePath>, rel: string, head: boolean) {
    const docPath = p.checksum ? rel.slice(0, -(p.checksum.length + 1)) : rel;
    const ref = await this.core.proxyCache.document(proxy, {
      key: `maven:${docPath}`, url: `${proxy.upstream}/${docPath}`, accept: 'application/xml, text/xml, */*', maxBytes: MAX_METADATA,
      check: checkUpstreamMetadata,
    });
    await this.core.proxyCache.ensurePackage(proxy, TYPE, packageName(p.groupId, p.artifactId), true);
    let sums = this.sums.get(ref.digest);
    const body = !sums || !p.checksum ? await this.core.proxyCache.read(ref.digest) : undefined;
    if (!sums) {
      const hex = (a: ChecksumAlgo) => createHash(a).update(body!).digest('hex');
      sums = { md5: hex('md5'), sha1: hex('sha1'), sha256: ref.digest.slice(7), sha512: hex('sha512') };
      if (this.sums.size >= 10_000) this.sums.delete(this.sums.keys().next().value!);
      this.sums.set(ref.digest, sums);
    }
    if (p.checksum) return reply.type('text/plain').header('content-length', sums[p.checksum].length).send(head ? undefined : sums[p.checksum]);
    return reply
      .type('application/xml')
      .header('content-length', body!.length)
      .header('cache-control', 'no-cache')
      .header('x-checksum-sha1', sums.sha1)
      .send(head ? undefined : body);
  }

  /** Fetches a file and its upstream checksum, once however many ask, and keeps it when they match. */
  private fetch(proxy: ProxyConfig, p: FilePath, name: string, rel: string): Promise<FileRow> {
    return this.core.proxyCache.coalesce(`maven|${proxy.ownerId}|${rel}`, async () => {
      const expected = await this.expectedChecksum(proxy, rel);
      const parts = parseFileName(p.artifactId, p.version, p.file);
      return this.core.proxyCache.file(proxy, {
        type: TYPE, packageName: name, version: p.version, fileName: p.file, contentType: contentTypeOf(p.file),
        url: `${proxy.upstream}/${rel}`, maxSize: this.core.config.maxBlobSize, extraDigests: ['sha1', 'sha512', 'md5'],
        verify: (staged) => verifyChecksum(staged, expected, `${name}:${p.version} ${p.file}`),
        metadata: {}, primary: parts.classifier === null && parts.extension === 'pom', exactName: true,
      });
    });
  }

  /**
   * The upstream's checksum of `rel`: its `.sha256` when it has one (Maven Central has them for newer artifacts),
   * else its `.sha1` (every Maven repository has those). Neither: the file cannot be verified and is refused.
   */
  private async expectedChecksum(proxy: ProxyConfig, rel: string): Promise<{ algo: 'sha1' | 'sha256'; hex: string }> {
    for (const algo of ['sha256', 'sha1'] as const) {
      const { res, abort } = await this.core.proxyCache.request(proxy, `${proxy.upstream}/${rel}.${algo}`, { accept: 'text/plain, */*' });
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel().catch(() => {});
        continue;
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw upstreamError(`the upstream answered ${res.status} for ${rel}.${algo}`);
      }
      const declared = Number(res.headers.get('content-length') ?? 0);
      if (declared > MAX_CHECKSUM) {
        abort.abort();
        throw upstreamError(`the upstream's ${rel}.${algo} is larger than ${MAX_CHECKSUM} bytes`);
      }
      // Read as any upstream body is: bounded (a hostile one never ends), guarded against stalls, its failures a 502.
      const bytes = await this.core.proxyCache.readBody(proxy, res, abort, MAX_CHECKSUM);
      return { algo, hex: parseUpstreamChecksum(bytes, algo) };
    }
    // No checksum at all: either the file is not there either (a clean 404 lets Maven try its next repository)
    // or it cannot be verified.
    const { res } = await this.core.proxyCache.request(proxy, `${proxy.upstream}/${rel}`, { accept: '*/*' });
    await res.body?.cancel().catch(() => {});
    if (res.status === 404 || res.status === 410) throw notFound(`${rel} is not in the upstream repository`);
    throw upstreamError(`the upstream has no .sha256 or .sha1 for ${rel}: it cannot be verified`);
  }

  /** A kept file's checksum: sha256 is its digest, the others were computed when it was stored. */
  private async fileDigest(f: FileRow, algo: ChecksumAlgo): Promise<string> {
    if (algo === 'sha256') return f.blob_digest.slice(7);
    if (algo === 'sha1' && f.sha1) return f.sha1;
    if (algo === 'sha512' && f.sha512) return f.sha512;
    const h = createHash(algo);
    for await (const chunk of await this.core.blobs.open(f.blob_digest)) h.update(chunk as Buffer);
    return h.digest('hex');
  }
}

/** The file is what the upstream's checksum says, or it is refused (and nothing is kept). */
export function verifyChecksum(staged: Hashed, expected: { algo: 'sha1' | 'sha256'; hex: string }, what: string): void {
  const got = expected.algo === 'sha256' ? staged.digest.slice(7) : staged.extra.sha1;
  if (got !== expected.hex) throw upstreamError(`checksum mismatch: the upstream's ${what} has ${expected.algo} ${got}, its .${expected.algo} says ${expected.hex}`);
}
