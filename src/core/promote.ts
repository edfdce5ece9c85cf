// Promotion: a version copied, with every one of its files byte for byte, to another registry that speaks the same
// protocol (a URL) or to another owner of this Wharf. The core decides who may (admin on the package; for another
// owner also the right to publish there) and records where a version went; each format brings a small Promoter
// (formats/<fmt>/promoter.ts) that knows its protocol's push and its integrity answer. Nothing is recorded unless
// the copy was checked on the target.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Db } from '../db/database.ts';
import type { PackageFile, PackageVersion } from '../db/tables.ts';
import type { AuditLog } from './audit/audit.ts';
import type { Actor } from './auth/actor.ts';
import { actorName } from './auth/actor.ts';
import type { Authorizer } from './auth/authorize.ts';
import type { BlobStore } from './blobs/blob-store.ts';
import { nowIso } from './clock.ts';
import { conflict, invalid, isWharfError, notFound, upstreamError } from './errors.ts';
import type { Events, PackageEvent } from './events/events.ts';
import type { Webhooks } from './events/webhooks.ts';
import type { PackageRow, Packages } from './model/packages.ts';
import type { Publisher } from './publish.ts';

/** A file of the version being promoted, with the digests its blob row keeps. */
export interface PromotedFile {
  name: string;
  digest: string;
  size: number;
  contentType: string;
  primary: boolean;
  sha1: string | null;
  sha512: string | null;
  md5: string | null;
}

/** One version as it travels: its row, files and tags. */
export interface PromotedVersion {
  version: PackageVersion;
  files: PromotedFile[];
  tags: string[];
  properties: { name: string; value: string }[];
}

/** Credentials for a remote registry: a token (sent as its protocol sends tokens) or a username and password. */
export interface RemoteCredentials {
  token?: string;
  username?: string;
  password?: string;
}

/** What a promoter's push gets: the content, a way to read it, and the target. */
export interface RemotePush {
  pkg: PackageRow;
  /** The version named, then the versions that travel with it (see Promoter.companions), in push order. */
  versions: PromotedVersion[];
  main: PromotedVersion;
  url: URL;
  credentials: RemoteCredentials;
  open(digest: string): Promise<Readable>;
  read(digest: string): Promise<Buffer>;
  /** fetch for every request to the target: each redirect is checked against the address policy (see guardedFetch). */
  fetch: typeof fetch;
}

/** A digest the target answered with after the copy, compared with ours. */
export interface Check {
  file: string;
  digest: string;
}

/** A format's part of a promotion. */
export interface Promoter {
  /**
   * Versions of the same package that must travel with `version`, in the order a target accepts them (an image
   * index's manifests before it, the referrers that sign or describe it after it).
   */
  companions?(ctx: { packages: Packages; pkg: PackageRow; version: PackageVersion }): Promise<{ before: PackageVersion[]; after: PackageVersion[] }>;
  /**
   * The version's metadata and file names under a new owner and name (npm names carry the owner as their scope).
   * Without it, metadata and file names are kept.
   */
  rename?(v: PromotedVersion, to: { owner: string; name: string }): { metadata: unknown; files: Map<string, string>; packageMetadata?: Record<string, unknown> };
  /** Whether a promotion may change the name (false where the name is inside the content: a pom, a gemspec, a nuspec). */
  readonly renames: boolean;
  /** Refuses (Invalid) a name this format does not take under `owner`: a promotion's new name meets the format's rules. */
  checkName?(owner: string, name: string): void;
  /** Copies to a remote registry of this format; returns the target's integrity answers, each already compared. */
  push?(p: RemotePush): Promise<Check[]>;
}

export interface PromoteRequest {
  pkg: PackageRow;
  version: PackageVersion;
  to: { url: string; credentials: RemoteCredentials } | { owner: string; name?: string };
}

export interface PromotionRow {
  id: number;
  target: string;
  url: string | null;
  target_version_id: number | null;
  checked: Check[];
  actor: string | null;
  created_at: string;
}

export class Promotions {
  constructor(
    private readonly db: Db,
    private readonly authz: Authorizer,
    private readonly packages: Packages,
    private readonly publisher: Publisher,
    private readonly blobs: BlobStore,
    private readonly events: Events,
    private readonly audit: AuditLog,
    private readonly webhooks: Webhooks,
    private readonly durable: () => Promise<void> = async () => {},
  ) {}

  /** A live version named by its version string, else by a tag (an image's `1.0`). */
  async resolve(pkg: PackageRow, ref: string): Promise<PackageVersion> {
    const v = await this.packages.version(pkg.id, ref);
    if (v) return v;
    const tag = (await this.packages.tags(pkg.id)).find((t) => t.name === ref);
    const tagged = tag ? await this.packages.versionById(tag.version_id) : undefined;
    if (!tagged || tagged.deleted_at) throw notFound(`version ${ref} not found`);
    return tagged;
  }

  /** Where a version was promoted, newest first. */
  async list(versionId: number): Promise<PromotionRow[]> {
    const rows = await this.db.selectFrom('package_promotions').selectAll().where('version_id', '=', versionId).orderBy('id', 'desc').execute();
    return rows.map((r) => ({ id: r.id, target: r.target, url: r.target_url, target_version_id: r.target_version_id, checked: JSON.parse(r.checked) as Check[], actor: r.actor, created_at: r.created_at }));
  }

  /**
   * Copies `req.version` to its target and records the promotion. The actor needs admin on the package (who cannot
   * read it gets NotFound); promoting to another owner also needs the right to publish there. A target that refuses
   * is an Upstream error (502) and nothing is recorded.
   */
  async promote(actor: Actor, req: PromoteRequest, promoter: Promoter): Promise<PromotionRow> {
    const { pkg, version } = req;
    await this.authz.authorize(actor, 'admin', pkg);
    if (version.package_id !== pkg.id || version.deleted_at) throw notFound('version not found');
    const main = await this.load(version);
    const around = (await promoter.companions?.({ packages: this.packages, pkg, version })) ?? { before: [], after: [] };
    const before = await Promise.all(around.before.map((v) => this.load(v)));
    const after = await Promise.all(around.after.map((v) => this.load(v)));

    let target: string;
    let url: string | null = null;
    let targetVersionId: number | null = null;
    let checked: Check[];
    if ('owner' in req.to) {
      const name = req.to.name ?? pkg.name;
      if (name !== pkg.name && !promoter.renames) throw invalid(`a ${pkg.type} package's name is inside its files: it keeps its name (${pkg.name}) when promoted`);
      if (name !== pkg.name) {
        if (typeof name !== 'string' || !promoter.checkName) throw invalid(`a ${pkg.type} package keeps its name when promoted`);
        promoter.checkName(req.to.owner, name);
      }
      const r = await this.toOwner(actor, pkg, [...before, main, ...after], main, req.to.owner, name, promoter);
      target = `${r.owner}/${name}`;
      targetVersionId = r.versionId;
      checked = r.checked;
    } else {
      if (!promoter.push) throw invalid(`promoting ${pkg.type} packages to another registry is not supported`);
      const { url: u, fetch: guarded } = await this.checkUrl(req.to.url, pkg.owner_id, actor);
      target = url = u.toString();
      try {
        checked = await promoter.push({
          pkg, versions: [...before, main, ...after], main, url: u, credentials: req.to.credentials, fetch: guarded,
          open: (d) => this.blobs.open(d),
          read: async (d) => {
            const chunks: Buffer[] = [];
            for await (const c of await this.blobs.open(d)) chunks.push(c as Buffer);
            return Buffer.concat(chunks);
          },
        });
      } catch (e) {
        if (isWharfError(e)) throw e;
        throw upstreamError(`the target registry could not be reached: ${(e as Error).message}`);
      }
    }
    return this.record(actor, pkg, version, { target, url, targetVersionId, checked });
  }

  /** A version with its files (and their blob digests), tags and lookup properties. */
  private async load(v: PackageVersion): Promise<PromotedVersion> {
    const [files, tags, properties] = await Promise.all([
      this.db.selectFrom('package_files').innerJoin('blobs', 'blobs.digest', 'package_files.blob_digest')
        .select(['package_files.name', 'package_files.blob_digest', 'package_files.size', 'package_files.content_type', 'package_files.is_primary', 'blobs.sha1', 'blobs.sha512', 'blobs.md5'])
        .where('package_files.version_id', '=', v.id).orderBy('package_files.id').execute(),
      this.db.selectFrom('package_tags').select('name').where('version_id', '=', v.id).execute(),
      this.db.selectFrom('package_properties').select(['name', 'value']).where('ref_type', '=', 'version').where('ref_id', '=', v.id).execute(),
    ]);
    return {
      version: v,
      files: files.map((f) => ({ name: f.name, digest: f.blob_digest, size: f.size, contentType: f.content_type, primary: f.is_primary === 1, sha1: f.sha1, sha512: f.sha512, md5: f.md5 })),
      tags: tags.map((t) => t.name),
      properties,
    };
  }

  /**
   * The copy inside this Wharf: the same blobs (content-addressed, so byte for byte by construction) under new
   * version rows. Versions that travel along and already exist there (the same image manifest) are kept; the named
   * version existing there is a Conflict. Publishing checks the actor's right on the target before anything is written.
   */
  private async toOwner(actor: Actor, pkg: PackageRow, all: PromotedVersion[], main: PromotedVersion, ownerName: string, name: string, promoter: Promoter) {
    const owner = await this.db.selectFrom('owners').select(['id', 'kind', 'name']).where('lower_name', '=', ownerName.toLowerCase()).executeTakeFirst();
    if (!owner) throw notFound(`no user or organization named ${ownerName}`);
    if (owner.id === pkg.owner_id && name.toLowerCase() === pkg.name.toLowerCase()) throw invalid('a version cannot be promoted to its own package');
    const existing = await this.packages.find(owner.name, pkg.type, name, { includeDeleted: true });
    // A package there the actor cannot see is refused as a new one would be (authorizePublish).
    await this.authz.authorizePublish(actor, owner, existing && !existing.deleted_at ? existing : undefined, null, { type: pkg.type, name });
    if (existing && (await this.packages.version(existing.id, main.version.version))) throw conflict(`version ${main.version.version} of ${owner.name}/${name} already exists`, 'EPUBLISHCONFLICT');

    let versionId: number | null = null;
    let copied: PromotedFile[] = [];
    for (const v of all) {
      const target = existing ?? (await this.packages.find(owner.name, pkg.type, name));
      if (v !== main && target && (await this.packages.version(target.id, v.version.version))) continue;
      const renamed = promoter.rename?.(v, { owner: owner.name, name });
      const files = v.files.map((f) => ({ ...f, name: renamed?.files.get(f.name) ?? f.name }));
      const { version } = await this.publisher.createVersion({
        ownerId: owner.id, type: pkg.type, name, version: v.version.version, normalizedVersion: v.version.lower_version,
        metadata: renamed ? renamed.metadata : JSON.parse(v.version.metadata), packageMetadata: renamed?.packageMetadata ?? (v === main ? packageMetadataFor(pkg, v) : undefined),
        files: files.map((f) => ({ name: f.name, blob: { digest: f.digest, size: f.size }, contentType: f.contentType, primary: f.primary })),
        tags: v.tags, properties: v.properties, repositoryId: null, actor,
      });
      if (v === main) {
        versionId = version.id;
        copied = files;
      }
    }
    // What the target now serves, read back: the same digests and sizes, and the content present in the store.
    const served = await this.db.selectFrom('package_files').select(['name', 'blob_digest', 'size']).where('version_id', '=', versionId!).execute();
    const checked: Check[] = [];
    for (const f of copied) {
      const s = served.find((r) => r.name === f.name);
      const stat = await this.blobs.stat(f.digest);
      if (!s || s.blob_digest !== f.digest || s.size !== f.size || stat?.size !== f.size) throw new Error(`promoted file ${f.name} does not match its source`);
      checked.push({ file: f.name, digest: f.digest });
    }
    return { owner: owner.name, versionId, checked };
  }

  /** The target URL, refused when it reaches an address webhooks may not reach either (the same allow-list). */
  private async checkUrl(raw: string, ownerId: number, actor: Actor): Promise<{ url: URL; fetch: typeof fetch }> {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw invalid(`invalid target URL "${raw}"`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('a target registry URL must be http or https');
    if (u.username || u.password) throw invalid('give the target registry\'s credentials as a token or username and password, not in its URL');
    // The operator at the shell (`wharf promote`) reaches what the machine reaches; a user through the API may not.
    if (actor.kind === 'system') return { url: u, fetch };
    const policy = await this.webhooks.policyFor(ownerId);
    const check = async (url: URL) => {
      if ((await policy.checkTarget(url, { resolve: this.webhooks.resolveHost })) === 'refused') {
        throw invalid(`the target's host ${url.hostname} is a loopback, private, link-local or otherwise special address, which promotions may not reach unless a site admin allows it (the webhook allow-list)`);
      }
    };
    await check(u);
    return { url: u, fetch: guardedFetch(check) };
  }

  /** The promotion row, its audit entry and its `promoted` event, in one transaction. */
  private async record(actor: Actor, pkg: PackageRow, version: PackageVersion, r: { target: string; url: string | null; targetVersionId: number | null; checked: Check[] }): Promise<PromotionRow> {
    const now = nowIso();
    const event: PackageEvent = { type: 'version.promoted', packageId: pkg.id, versionId: version.id, actor: actorName(actor), promotion: { target: r.target, url: r.url } };
    const row = await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const row = await trx.insertInto('package_promotions')
        .values({ version_id: version.id, target: r.target, target_url: r.url, target_version_id: r.targetVersionId, checked: JSON.stringify(r.checked), actor: actorName(actor), created_at: now })
        .returningAll().executeTakeFirstOrThrow();
      await this.audit.record(trx, {
        action: 'package_version.promote', actor, ownerId: pkg.owner_id, repositoryId: pkg.repository_id, packageId: pkg.id,
        target: `${pkg.type}/${pkg.name} ${version.version}`,
        details: { package_type: pkg.type, package: pkg.name, version: version.version, to: r.target, files: r.checked.length },
      });
      await this.events.record(trx, event);
      return row;
    });
    await this.durable();
    this.events.emit(event);
    return { id: row.id, target: row.target, url: row.target_url, target_version_id: row.target_version_id, checked: r.checked, actor: row.actor, created_at: row.created_at };
  }
}

/**
 * The package facts a copy carries (description, keywords...): the source's, except `latest`, which names this
 * version only when it carries the `latest` tag (the source's latest may not exist where the copy goes).
 */
function packageMetadataFor(pkg: PackageRow, v: PromotedVersion): Record<string, unknown> {
  const { latest: _l, ...rest } = JSON.parse(pkg.metadata) as Record<string, unknown>;
  return v.tags.includes('latest') ? { ...rest, latest: v.version.version } : rest;
}

/** The Authorization header most protocols take: Bearer for a token, Basic for a username and password. */
export function authorization(c: RemoteCredentials): string | undefined {
  if (c.token) return `Bearer ${c.token}`;
  if (c.username !== undefined) return `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
  return undefined;
}

/**
 * The start of a target's answer, at most `max` bytes; the rest is not read. A target is any server a package
 * admin names: nothing it sends is read without a bound.
 */
async function headOf(res: Response, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  const reader = res.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  try {
    while (n < max) {
      const { done, value } = await reader.read();
      if (done) return Buffer.concat(chunks);
      chunks.push(Buffer.from(value));
      n += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks);
}

/** A target's document, read whole up to `max` bytes (a 502 past it, or when it is not JSON). */
export async function targetJson<T>(res: Response, max: number, what: string): Promise<T> {
  const bytes = await headOf(res, max + 1).catch((e) => {
    throw upstreamError(`reading ${what} from the target failed: ${(e as Error).message}`);
  });
  if (bytes.length > max) throw upstreamError(`the target's ${what} is larger than ${max} bytes`);
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw upstreamError(`the target's ${what} is not JSON`);
  }
}

/** A target's file, read whole up to `max` bytes (a 502 past it): small documents only. */
export async function targetBytes(res: Response, max: number, what: string): Promise<Buffer> {
  const bytes = await headOf(res, max + 1).catch((e) => {
    throw upstreamError(`reading ${what} from the target failed: ${(e as Error).message}`);
  });
  if (bytes.length > max) throw upstreamError(`the target's ${what} is larger than ${max} bytes`);
  return bytes;
}

/** The hash of a response body, computed as it streams (content is never held whole). */
export async function bodyHash(res: Response, algo: 'sha256' | 'sha512'): Promise<Buffer> {
  const h = createHash(algo);
  for await (const chunk of res.body ?? []) h.update(chunk as Uint8Array);
  return h.digest();
}

/** A refusal by the target, as an Upstream error carrying its status and the start of its answer. */
export async function refused(res: Response, what: string): Promise<never> {
  const text = (await headOf(res, 300).catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 300).trim();
  throw upstreamError(`the target registry refused ${what}: ${res.status} ${res.statusText}${text ? ` (${text})` : ''}`);
}

/** Throws unless what the target answered for `file` is the digest we sent. */
export function compare(file: string, ours: string, theirs: string | undefined | null): Check {
  if (theirs !== ours) throw upstreamError(`the target's ${file} is ${theirs ?? 'missing'}, not ${ours}: the copy did not arrive intact`);
  return { file, digest: ours };
}

/** The sha256 (`sha256:<hex>`) of what `url` serves, hashed while it streams; a refusal is an Upstream error. */
export async function servedDigest(get: typeof fetch, url: string | URL, headers: Record<string, string>, what: string): Promise<string> {
  const res = await get(url, { headers });
  if (!res.ok) return refused(res, `the download of ${what}`);
  return `sha256:${(await bodyHash(res, 'sha256')).toString('hex')}`;
}

/**
 * fetch that checks every URL with `check` before connecting to it: the first, each redirect, and the URLs the
 * target itself names (an upload's Location, a packument's tarball, a service index's resources), so a target
 * cannot send Wharf to an address it could not have been itself (cloud metadata, localhost). Only GET and HEAD
 * follow redirects (a download redirected to object storage); an upload that is redirected is refused.
 * Credentials are not sent to another origin. Each host is checked when first seen, by resolving it: a name that
 * resolves elsewhere at connect time (DNS rebinding) is not caught here.
 */
export function guardedFetch(check: (u: URL) => Promise<void>, max = 5): typeof fetch {
  const checked = new Set<string>();
  const once = async (u: URL) => {
    if (checked.has(u.host)) return;
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw upstreamError('the target registry named a non-http URL');
    await check(u);
    checked.add(u.host);
  };
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    let url = new URL(input instanceof Request ? input.url : input.toString());
    let headers = { ...(init.headers as Record<string, string> | undefined) };
    for (let hop = 0; ; hop++) {
      await once(url);
      const res = await fetch(url, { ...init, headers, redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || res.status === 304 || !location) return res;
      await res.body?.cancel();
      const method = (init.method ?? 'GET').toUpperCase();
      if ((method !== 'GET' && method !== 'HEAD') || hop >= max) throw upstreamError(`the target registry redirected a ${method} ${hop >= max ? 'too often' : 'request'} (${res.status})`);
      const next = new URL(location, url);
      if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      url = next;
    }
  }) as typeof fetch;
}
