// Pull-through proxies as owners: `wharf proxy create NAME` makes an organization NAME (no members: only site
// administrators administer it) and a `proxies` row naming its upstream. Everything a proxy caches is an ordinary
// package of that organization, so authorize(), search, the web UI, download counts and `wharf gc` treat it as
// any other; only how a missing file is found differs (core/proxy/proxy-cache.ts, and each format's proxy routes).
// An org rather than a third owner kind: owners are users or orgs everywhere (REST /orgs/NAME/packages, pages,
// audit rows, authorize's owner checks), and a proxy is administered like an org with no members.
import { GenerationCache, scopedGeneration, type ChangeGeneration } from '../../db/changes.ts';
import { isUniqueViolation, type Db } from '../../db/database.ts';
import type { Proxy, Visibility } from '../../db/tables.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Actor } from '../auth/actor.ts';
import type { Authorizer } from '../auth/authorize.ts';
import { nowIso } from '../clock.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import { checkOwnerName } from '../names.ts';

/** The formats that serve their proxies; a format joins when its routes plug into ProxyCache. */
export const PROXY_FORMATS = ['npm', 'container', 'maven', 'rubygems', 'nuget'] as const;
export const DEFAULT_TTL_SECONDS = 300;
export const DEFAULT_TIMEOUT_MS = 30_000;

/** A proxy as its routes need it (the password included: it is sent upstream). */
export interface ProxyConfig {
  ownerId: number;
  name: string;
  format: string;
  /** Without a trailing slash. */
  upstream: string;
  username: string | null;
  password: string | null;
  visibility: Visibility;
  ttlSeconds: number;
  timeoutMs: number;
  isDefault: boolean;
  createdAt: string;
}

/** What may be shown of a proxy (REST, CLI, web): never its password. */
export type ProxyInfo = Omit<ProxyConfig, 'password'> & { hasPassword: boolean };

export interface ProxyInput {
  format?: string;
  upstream?: string;
  username?: string | null;
  password?: string | null;
  visibility?: Visibility;
  ttlSeconds?: number;
  timeoutMs?: number;
  isDefault?: boolean;
}

export const publicInfo = (p: ProxyConfig): ProxyInfo => {
  const { password, ...rest } = p;
  return { ...rest, hasPassword: !!password };
};

/** An http(s) URL without credentials, query or fragment; returned without its trailing slash. */
export function checkUpstream(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(`invalid upstream URL "${url}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('the upstream URL must be http or https');
  if (u.username || u.password) throw invalid('put the upstream credentials in --username and --password-stdin, not in the URL');
  if (u.search || u.hash) throw invalid('the upstream URL may not have a query or fragment');
  return u.toString().replace(/\/+$/, '');
}

/**
 * A block pattern: `@scope` or `@scope/*` (the whole scope), an exact name, or a name with `*` wildcards.
 * Lower-case, npm's name characters only, so patterns cannot be used to smuggle anything.
 */
export function checkBlockPattern(p: string): string {
  if (!/^(@[a-z0-9*][a-z0-9._~*-]*(\/[a-z0-9*][a-z0-9._~*-]*)?|[a-z0-9*][a-z0-9._~*-]*)$/.test(p) || p.length > 214) {
    throw invalid(`invalid pattern "${p}": use @scope, @scope/*, a name, or a name with * wildcards (lower case)`);
  }
  return p;
}

/**
 * Does `name` (`lodash`, `@types/node`) match a block pattern? Whatever its case: Wharf's names are one whatever
 * their case, and an upstream's old mixed-case name (`Padder`) must not slip past a block of `padder`.
 */
export function blockMatches(pattern: string, name: string): boolean {
  const p = pattern.startsWith('@') && !pattern.includes('/') ? `${pattern}/*` : pattern;
  const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(name);
}

const rowToConfig = (r: Proxy & { name: string }): ProxyConfig => ({
  ownerId: r.owner_id, name: r.name, format: r.format, upstream: r.upstream, username: r.username, password: r.password,
  visibility: r.visibility, ttlSeconds: r.ttl_seconds, timeoutMs: r.timeout_ms, isDefault: r.is_default === 1, createdAt: r.created_at,
});

const positive = (n: number | undefined, what: string, max: number) => {
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 0 || n > max) throw invalid(`${what} must be a whole number from 0 to ${max}`);
  return n;
};

export class Proxies {
  private readonly all: GenerationCache<ProxyConfig[]>;
  private readonly blockCache: GenerationCache<string[]>;

  constructor(private readonly db: Db, private readonly authz: Authorizer, private readonly audit: AuditLog, changes: ChangeGeneration) {
    // Following only the tables they read: a publish or a proxy's cached file elsewhere does not empty them.
    this.all = new GenerationCache(scopedGeneration(changes, ['proxies', 'owners']), 4, 'proxies');
    this.blockCache = new GenerationCache(scopedGeneration(changes, ['proxy_blocks']), 16, 'proxies');
  }

  /** Every proxy (a handful: read once per change generation). */
  async list(): Promise<ProxyConfig[]> {
    return this.all.get('all', async () => {
      const rows = await this.db.selectFrom('proxies').innerJoin('owners', 'owners.id', 'proxies.owner_id').selectAll('proxies').select('owners.name as name').orderBy('owners.lower_name').execute();
      return rows.map(rowToConfig);
    });
  }

  /** Every proxy, for a site administrator (their upstreams and accounts are the site's configuration). */
  async listFor(actor: Actor): Promise<ProxyInfo[]> {
    await this.authz.manage(actor, { what: 'site' });
    return (await this.list()).map(publicInfo);
  }

  /** The patterns blocked for `format`, for a site administrator. */
  async blocksFor(actor: Actor, format: string): Promise<string[]> {
    await this.authz.manage(actor, { what: 'site' });
    return this.blocks(format);
  }

  /** The proxy owner named `name` (case-insensitive), if it is one. */
  async byName(name: string): Promise<ProxyConfig | undefined> {
    const lower = name.toLowerCase();
    return (await this.list()).find((p) => p.name.toLowerCase() === lower);
  }

  async byOwnerId(ownerId: number): Promise<ProxyConfig | undefined> {
    return (await this.list()).find((p) => p.ownerId === ownerId);
  }

  /** The proxy a format's unowned names fall through to, if one was made the default. */
  async defaultOf(format: string): Promise<ProxyConfig | undefined> {
    return (await this.list()).find((p) => p.format === format && p.isDefault);
  }

  /** The patterns a default proxy of `format` never resolves upstream. */
  async blocks(format: string): Promise<string[]> {
    return this.blockCache.get(format, async () => (await this.db.selectFrom('proxy_blocks').select('pattern').where('format', '=', format).orderBy('pattern').execute()).map((r) => r.pattern));
  }

  /** Is `name` blocked from falling through to the default proxy of `format`? */
  async isBlocked(format: string, name: string): Promise<boolean> {
    return (await this.blocks(format)).some((p) => blockMatches(p, name));
  }

  /** Makes the organization `name` and its proxy (site administrators only). */
  async create(actor: Actor, name: string, input: ProxyInput): Promise<ProxyConfig> {
    await this.authz.manage(actor, { what: 'site' });
    checkOwnerName(name);
    const format = input.format ?? '';
    if (!(PROXY_FORMATS as readonly string[]).includes(format)) throw invalid(`format must be one of ${PROXY_FORMATS.join(', ')}`);
    if (!input.upstream) throw invalid('an upstream URL is required');
    const upstream = checkUpstream(input.upstream);
    if (input.password && !input.username) throw invalid('a password needs a username');
    const now = nowIso();
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      let owner;
      try {
        owner = await trx.insertInto('owners').values({ kind: 'org', name, lower_name: name.toLowerCase(), email: null, password_hash: null, is_admin: 0, created_at: now }).returning('id').executeTakeFirstOrThrow();
      } catch (e) {
        if (isUniqueViolation(e)) throw conflict(`the name "${name}" is already taken`);
        throw e;
      }
      if (input.isDefault) await trx.updateTable('proxies').set({ is_default: 0 }).where('format', '=', format).execute();
      await trx.insertInto('proxies').values({
        owner_id: owner.id, format, upstream, username: input.username ?? null, password: input.password ?? null,
        visibility: input.visibility ?? 'public', ttl_seconds: positive(input.ttlSeconds, 'ttl', 365 * 86400) ?? DEFAULT_TTL_SECONDS,
        timeout_ms: positive(input.timeoutMs, 'timeout', 600_000) ?? DEFAULT_TIMEOUT_MS, is_default: input.isDefault ? 1 : 0, created_at: now,
      }).execute();
      await this.audit.record(trx, { action: 'proxy.create', actor, ownerId: owner.id, target: name, details: { format, upstream, visibility: input.visibility ?? 'public', default: !!input.isDefault } });
    });
    return (await this.require(name));
  }

  async require(name: string): Promise<ProxyConfig> {
    const p = await this.byName(name);
    if (!p) throw notFound(`no proxy named "${name}"`);
    return p;
  }

  /**
   * Changes a proxy's upstream, credentials, visibility (every package it cached takes it), TTL, timeout or
   * default flag (site administrators only).
   */
  async update(actor: Actor, name: string, input: Omit<ProxyInput, 'format'>): Promise<ProxyConfig> {
    await this.authz.manage(actor, { what: 'site' });
    const p = await this.require(name);
    const set: Record<string, unknown> = {};
    if (input.upstream !== undefined) set.upstream = checkUpstream(input.upstream);
    if (input.username !== undefined) set.username = input.username;
    if (input.password !== undefined) set.password = input.password;
    if (input.visibility !== undefined) set.visibility = input.visibility;
    if (input.ttlSeconds !== undefined) set.ttl_seconds = positive(input.ttlSeconds, 'ttl', 365 * 86400);
    if (input.timeoutMs !== undefined) set.timeout_ms = positive(input.timeoutMs, 'timeout', 600_000);
    if (input.isDefault !== undefined) set.is_default = input.isDefault ? 1 : 0;
    if (!Object.keys(set).length) return p;
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      if (input.isDefault) await trx.updateTable('proxies').set({ is_default: 0 }).where('format', '=', p.format).execute();
      await trx.updateTable('proxies').set(set).where('owner_id', '=', p.ownerId).execute();
      if (input.visibility !== undefined && input.visibility !== p.visibility) {
        await trx.updateTable('packages').set((eb) => ({ visibility: input.visibility!, revision: eb('revision', '+', 1) })).where('owner_id', '=', p.ownerId).execute();
      }
      // What changed, never the password itself.
      const changed = Object.keys(set).map((k) => (k === 'password' ? 'password' : k));
      await this.audit.record(trx, { action: 'proxy.update', actor, ownerId: p.ownerId, target: p.name, details: { changed, ...(input.visibility ? { visibility: input.visibility } : {}), ...(input.upstream ? { upstream: set.upstream } : {}) } });
    });
    return this.require(name);
  }

  /**
   * Stops proxying: the organization stays, an ordinary one holding what was cached (delete its packages as any
   * other's), and the cached documents go (their content at the next garbage collection).
   */
  async remove(actor: Actor, name: string): Promise<void> {
    await this.authz.manage(actor, { what: 'site' });
    const p = await this.require(name);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      await trx.deleteFrom('proxy_documents').where('owner_id', '=', p.ownerId).execute();
      await trx.deleteFrom('proxies').where('owner_id', '=', p.ownerId).execute();
      await this.audit.record(trx, { action: 'proxy.destroy', actor, ownerId: p.ownerId, target: p.name, details: { format: p.format, upstream: p.upstream } });
    });
  }

  /** Adds a pattern the default proxy of `format` never resolves upstream (site administrators only). */
  async block(actor: Actor, format: string, pattern: string): Promise<void> {
    await this.authz.manage(actor, { what: 'site' });
    if (!(PROXY_FORMATS as readonly string[]).includes(format)) throw invalid(`format must be one of ${PROXY_FORMATS.join(', ')}`);
    checkBlockPattern(pattern);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const r = await trx.insertInto('proxy_blocks').values({ format, pattern, created_at: nowIso() }).onConflict((oc) => oc.columns(['format', 'pattern']).doNothing()).executeTakeFirst();
      if (Number(r.numInsertedOrUpdatedRows ?? 0)) await this.audit.record(trx, { action: 'proxy.block', actor, ownerId: null, target: pattern, details: { format, pattern } });
    });
  }

  async unblock(actor: Actor, format: string, pattern: string): Promise<void> {
    await this.authz.manage(actor, { what: 'site' });
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const r = await trx.deleteFrom('proxy_blocks').where('format', '=', format).where('pattern', '=', pattern).executeTakeFirst();
      if (!Number(r.numDeletedRows)) throw notFound(`no block "${pattern}"`);
      await this.audit.record(trx, { action: 'proxy.unblock', actor, ownerId: null, target: pattern, details: { format, pattern } });
    });
  }
}
