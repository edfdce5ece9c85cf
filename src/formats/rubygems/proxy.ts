// RubyGems pull-through proxies (core/proxy): a RubyGems proxy NAME is a gem source at /rubygems/NAME/ holding
// every gem of its upstream (RubyGems.org, another Wharf, any host with a compact index).
//   - the compact index `versions` and `info/GEM` are mutable documents: kept, served while younger than the
//     proxy's TTL, revalidated with the upstream's ETag/Last-Modified, served stale when it is down; their bytes
//     are the upstream's, so the MD5 of each info file in `versions` stays true (Bundler relies on it);
//   - a `.gem` is immutable: fetched once, read while it is stored (as a push is), kept only when its SHA-256 is
//     the checksum the upstream's `info` declares for that version and its gemspec names that gem and version;
//     then it is an ordinary version, so Wharf's own quick/Marshal.4.8 gemspec, REST and pages serve it.
import type { Actor } from '../../core/auth/actor.ts';
import type { Core } from '../../core/core.ts';
import { isWharfError, notFound, unauthorized, upstreamError } from '../../core/errors.ts';
import type { ProxyConfig } from '../../core/proxy/proxies.ts';
import type { GemVersionMeta } from './documents.ts';
import { DEFAULT_GEM_LIMITS, GemInspector, type GemFacts } from './gem-archive.ts';
import { checkGemName, isPrerelease, versionKey } from './names.ts';
import { makeDoc, TYPE, type Doc } from './source.ts';

/** RubyGems.org's `versions` is tens of MiB; an `info` file is rarely more than a few hundred KiB. */
const MAX_VERSIONS = 128 * 1024 * 1024;
const MAX_INFO = 8 * 1024 * 1024;

export interface InfoLine {
  /** VERSION[-PLATFORM], as in the .gem's file name. */
  key: string;
  /** Hex SHA-256 of the .gem. */
  checksum: string;
}

const VERSION_KEY = /^[0-9][0-9A-Za-z._-]{0,127}$/;

/**
 * The versions and checksums of an upstream `info/GEM` file (`---`, then `VERSION[-PLATFORM] DEPS|REQS` lines,
 * REQS holding `checksum:HEX`). Anything else is the upstream's fault: Upstream (502), and it is not kept.
 */
export function parseUpstreamInfo(bytes: Buffer, name: string): Map<string, InfoLine> {
  const bad = (why: string) => upstreamError(`the upstream's info/${name} ${why}`);
  const lines = bytes.toString('utf8').split('\n');
  if (lines[0] !== '---') throw bad('does not start with ---');
  const out = new Map<string, InfoLine>();
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const sp = line.indexOf(' ');
    const bar = line.lastIndexOf('|');
    if (sp < 1 || bar < sp) throw bad(`has a line that is not VERSION DEPS|REQS: ${JSON.stringify(line.slice(0, 80))}`);
    const key = line.slice(0, sp);
    if (!VERSION_KEY.test(key)) throw bad(`names an invalid version ${JSON.stringify(key.slice(0, 80))}`);
    const checksum = line.slice(bar + 1).split(',').find((r) => r.startsWith('checksum:'))?.slice('checksum:'.length);
    if (!checksum || !/^[0-9a-f]{64}$/.test(checksum)) throw bad(`declares no SHA-256 checksum for ${key}`);
    out.set(key, { key, checksum });
  }
  return out;
}

/** Checks an upstream `versions` file: `created_at:` header lines, `---`, then `NAME VERSIONS MD5` lines. */
export function checkUpstreamVersions(bytes: Buffer): void {
  const text = bytes.toString('utf8');
  const sep = text.startsWith('---\n') ? 0 : text.indexOf('\n---\n');
  if (sep < 0) throw upstreamError("the upstream's versions file has no --- line");
  let start = sep === 0 ? 4 : sep + 5;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    if (line && !/^[A-Za-z0-9._-]+ [^ ]+ [0-9a-f]{32}$/.test(line)) throw upstreamError(`the upstream's versions file has a line that is not NAME VERSIONS MD5: ${JSON.stringify(line.slice(0, 80))}`);
    start = end + 1;
  }
}

export class RubygemsProxy {
  /** Documents with their digest: a `versions` file is hashed for its ETag once per content, not per request. */
  private readonly docs = new Map<string, { digest: string; doc: Doc }>();
  private readonly infos = new Map<string, Map<string, InfoLine>>();

  constructor(private readonly core: Core) {}

  /** The proxy owner `owner` is, if it is a RubyGems proxy. */
  async proxyOf(owner: string): Promise<ProxyConfig | undefined> {
    const p = await this.core.proxies.byName(owner);
    return p && p.format === TYPE ? p : undefined;
  }

  /**
   * Read access to the proxy's gem `name` (or to the proxy itself for `versions`), decided by authorize() on its
   * row, or on the row it will be: a private proxy never fetches for strangers.
   */
  async allowRead(actor: Actor, proxy: ProxyConfig, name: string | null): Promise<void> {
    const pkg = name === null ? undefined : await this.core.proxyCache.keptPackage(proxy, TYPE, name, true);
    const ref = pkg ?? { id: 0, owner_id: proxy.ownerId, visibility: proxy.visibility, repository_id: null, inherit_access: 0, type: TYPE, name: name ?? '' };
    const missing = () => (actor.kind === 'anonymous' ? unauthorized('this gem source needs credentials') : notFound(`gem ${name ?? ''} not found`));
    await this.core.authz.authorizeFound(actor, 'read', ref, missing);
  }

  private async doc(proxy: ProxyConfig, key: string, url: string, maxBytes: number, check: (b: Buffer) => void): Promise<{ doc: Doc; digest: string }> {
    const ref = await this.core.proxyCache.document(proxy, { key, url, accept: 'text/plain, */*', maxBytes, check });
    // By document, holding its current content only: an old `versions` (tens of MiB) is dropped when it changes.
    const slot = `${proxy.ownerId}|${key}`;
    let hit = this.docs.get(slot);
    if (hit?.digest !== ref.digest) {
      hit = { digest: ref.digest, doc: makeDoc(await this.core.proxyCache.read(ref.digest)) };
      this.docs.delete(slot);
      if (this.docs.size >= 256) this.docs.delete(this.docs.keys().next().value!);
      this.docs.set(slot, hit);
    }
    return { doc: hit.doc, digest: ref.digest };
  }

  /** The upstream's compact-index `versions`. */
  async versions(actor: Actor, proxy: ProxyConfig): Promise<Doc> {
    await this.allowRead(actor, proxy, null);
    return (await this.doc(proxy, 'rubygems:versions', `${proxy.upstream}/versions`, MAX_VERSIONS, checkUpstreamVersions)).doc;
  }

  /** The upstream's `info/NAME`. */
  async info(actor: Actor, proxy: ProxyConfig, name: string): Promise<Doc> {
    checkGemName(name);
    await this.allowRead(actor, proxy, name);
    return (await this.infoOf(proxy, name)).doc;
  }

  private async infoOf(proxy: ProxyConfig, name: string): Promise<{ doc: Doc; lines: Map<string, InfoLine> }> {
    const { doc, digest } = await this.doc(proxy, `rubygems:info:${name}`, `${proxy.upstream}/info/${name}`, MAX_INFO, (b) => parseUpstreamInfo(b, name));
    let lines = this.infos.get(digest);
    if (!lines) {
      lines = parseUpstreamInfo(doc.body, name);
      if (this.infos.size >= 256) this.infos.delete(this.infos.keys().next().value!);
      this.infos.set(digest, lines);
    }
    return { doc, lines };
  }

  /**
   * Makes sure the gem file `NAME-VERSION[-PLATFORM].gem` is kept (fetched and verified when missing), so Wharf's
   * own routes serve it and its gemspec. A name is one of the file name's prefixes that end before `-digit`.
   */
  async ensureGem(actor: Actor, proxy: ProxyConfig, fileName: string): Promise<void> {
    if (!fileName.endsWith('.gem')) throw notFound(`${fileName} not found`);
    const base = fileName.slice(0, -4);
    const names = [...base.matchAll(/-(?=[0-9])/g)].map((m) => base.slice(0, m.index)).filter((n) => {
      try {
        checkGemName(n);
        return true;
      } catch {
        return false;
      }
    });
    for (const name of names) {
      const key = base.slice(name.length + 1);
      const pkg = await this.core.proxyCache.keptPackage(proxy, TYPE, name, true);
      if (pkg && (await this.core.packages.file(pkg.id, key, fileName))) return;
      await this.allowRead(actor, proxy, name);
      let lines: Map<string, InfoLine>;
      try {
        ({ lines } = await this.infoOf(proxy, name));
      } catch (e) {
        if (isWharfError(e) && e.kind === 'NotFound') continue;
        throw e;
      }
      const line = lines.get(key);
      if (!line) continue;
      await this.core.proxyCache.file(proxy, {
        type: TYPE, packageName: name, version: key, fileName, contentType: 'application/octet-stream',
        url: `${proxy.upstream}/gems/${fileName}`, maxSize: this.core.config.maxBlobSize, extraDigests: [], exactName: true,
        verify: (staged) => {
          const got = staged.digest.slice('sha256:'.length);
          if (got !== line.checksum) throw upstreamError(`checksum mismatch: the upstream's ${fileName} has sha256 ${got}, its info/${name} says ${line.checksum}`);
        },
        inspect: () => {
          const through = new GemInspector({ ...DEFAULT_GEM_LIMITS, ...this.core.config.inflation });
          return { through, result: through.facts };
        },
        describe: (found, staged) => {
          const { spec } = found as GemFacts;
          if (spec.name !== name || versionKey(spec.version, spec.platform) !== key) {
            throw upstreamError(`the upstream's ${fileName} holds the gemspec of ${spec.name} ${versionKey(spec.version, spec.platform)}`);
          }
          const { name: _n, ...rest } = spec;
          const metadata: GemVersionMeta = { ...rest, sha256: staged.digest.slice('sha256:'.length), size: staged.size };
          return { metadata, packageMetadata: isPrerelease(spec.version) ? undefined : { description: spec.summary, latest: spec.version } };
        },
        metadata: {},
      });
      return;
    }
    throw notFound(`${fileName} not found`);
  }
}
