// One RubyGems source per owner, read from the model: which gems an actor may see, their live versions, and
// the index documents built from them. Documents are cached by the (package id, revision) of every gem they
// cover, so a push or yank (which bumps the package's revision) is seen by the next request on every node,
// and /versions and /info/NAME are always built from the same snapshot of a gem (the MD5 in /versions is
// that of the /info body served for the same revision).
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor } from '../../core/auth/actor.ts';
import type { Core } from '../../core/core.ts';
import { GenerationCache } from '../../db/changes.ts';
import type { Owner, Visibility } from '../../db/tables.ts';
import { compactEntry, type GemVersion, type GemVersionMeta, type VersionsLine } from './documents.ts';

export const TYPE = 'rubygems';

/** A gem of the source, as the access check and the caches need it. */
export interface GemPackage {
  id: number;
  name: string;
  /** Always `rubygems`: lets the authorizer match a credential's limit and a registry token without a lookup. */
  type: string;
  owner_id: number;
  revision: number;
  visibility: Visibility;
  repository_id: number | null;
  inherit_access: number;
  repo_visibility: Visibility | null;
  created_at: string;
  deleted_at: string | null;
}

/** Everything derived from one revision of one gem. */
export interface GemEntry {
  revision: number;
  name: string;
  versions: GemVersion[];
  info: Buffer;
  line: VersionsLine;
}

/** A served document with its validators: ETag is the quoted MD5 (Bundler compares it to its copy's MD5). */
export interface Doc {
  body: Buffer;
  etag: string;
  /** base64 SHA-256, for Repr-Digest and Digest. */
  sha256: string;
}

export function makeDoc(body: Buffer): Doc {
  return { body, etag: `"${createHash('md5').update(body).digest('hex')}"`, sha256: createHash('sha256').update(body).digest('base64') };
}

/** A small LRU bounded by entry count. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V) {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

export class GemSource {
  private readonly entries = new Lru<GemEntry>(20_000);
  private readonly docs = new Lru<Doc>(4096);
  /** Owner fingerprints for the current change generation: no aggregate query per request while nothing changes. */
  private readonly fingerprints: GenerationCache<string>;
  /** Readable sets of anonymous readers and of owners, by owner fingerprint (they depend on nothing else). */
  private readonly readableSets = new Lru<GemPackage[]>(1024);
  private readonly docKeys = new WeakMap<GemPackage[], string>();

  constructor(private readonly core: Core) {
    this.fingerprints = new GenerationCache(core.changes);
  }

  private packagesQuery() {
    return this.core.db
      .selectFrom('packages')
      .leftJoin('repositories', 'repositories.id', 'packages.repository_id')
      .select([
        'packages.id', 'packages.name', 'packages.type', 'packages.owner_id', 'packages.revision', 'packages.visibility', 'packages.repository_id',
        'packages.inherit_access', 'repositories.visibility as repo_visibility', 'packages.created_at', 'packages.deleted_at',
      ])
      .where('packages.type', '=', TYPE);
  }

  /** A live gem of the owner by name (case-insensitive), whoever may read it. */
  async find(ownerId: number, name: string, opts: { includeDeleted?: boolean } = {}): Promise<GemPackage | undefined> {
    let q = this.packagesQuery().where('packages.owner_id', '=', ownerId).where('packages.lower_name', '=', name.toLowerCase());
    if (!opts.includeDeleted) q = q.where('packages.deleted_at', 'is', null);
    return (await q.executeTakeFirst()) as GemPackage | undefined;
  }

  /**
   * The owner's gems the actor may read, by name: exactly those the authorizer's canRead lets it read (what
   * /info/NAME, the files and the JSON API answer for). One query; the common readers take shortcuts that give
   * the same answer without a decision per gem: anonymous readers see the public gems, the owner themself and
   * site admins everything, any other signed-in actor the public and internal gems without one. A credential
   * narrowed by a fine-grained limit or a registry token has no shortcut: each gem goes through canRead, so it
   * sees what its limit reaches (a registry token no gem at all), never its person's whole view.
   */
  async readable(actor: Actor, owner: Owner): Promise<GemPackage[]> {
    if (actor.kind !== 'anonymous' && !actor.scopes.has('read:packages')) return [];
    const narrowed = actor.kind !== 'anonymous' && (actor.limit != null || actor.registry != null);
    // Only these two classes are cached here: their sets depend on the owner's gems alone (the fingerprint),
    // never on grants, memberships or a credential's limit, so one key serves every actor of the class.
    const ownerSelf = !narrowed && actor.kind === 'user' && (actor.user.isAdmin || actor.user.id === owner.id);
    const cls = actor.kind === 'anonymous' ? 'anonymous' : ownerSelf ? 'owner' : null;
    if (!cls) return this.computeReadable(actor, owner, false, narrowed);
    const key = `${owner.id}|${cls}|${await this.fingerprint(owner.id)}`;
    const hit = this.readableSets.get(key);
    if (hit) return hit;
    const set = await this.computeReadable(actor, owner, ownerSelf, false);
    this.readableSets.set(key, set);
    return set;
  }

  /**
   * Changes whenever what any reader of the owner's gems may see changes: a package added, changed (every
   * change bumps its revision, visibility and links included), deleted or purged, or a linked repository's
   * visibility changed. One aggregate row instead of every package.
   */
  private fingerprint(ownerId: number): Promise<string> {
    return this.fingerprints.get(String(ownerId), () => this.loadFingerprint(ownerId));
  }

  private async loadFingerprint(ownerId: number): Promise<string> {
    const r = await this.core.db
      .selectFrom('packages')
      .leftJoin('repositories', 'repositories.id', 'packages.repository_id')
      .select([
        sql<number>`count(*)`.as('n'),
        sql<number>`coalesce(sum(packages.revision), 0)`.as('revisions'),
        sql<number>`coalesce(max(packages.id), 0)`.as('last'),
        sql<number>`coalesce(sum(case repositories.visibility when 'public' then repositories.id when 'internal' then -repositories.id else 0 end), 0)`.as('repos'),
        sql<number>`coalesce(sum(case repositories.visibility when 'public' then 1 when 'internal' then 1000000 else 0 end), 0)`.as('open'),
      ])
      .where('packages.owner_id', '=', ownerId)
      .where('packages.type', '=', TYPE)
      .executeTakeFirstOrThrow();
    return `${r.n}:${r.revisions}:${r.last}:${r.repos}:${r.open}`;
  }

  /**
   * `ownerSelf` (an unnarrowed owner or site admin) reads everything; a `narrowed` credential gets the
   * authorizer's answer for every gem; anyone else the public gems, when signed in the internal ones too, and
   * the authorizer's answer for the rest (canRead gives the same for the shortcuts, only slower).
   */
  private async computeReadable(actor: Actor, owner: Owner, ownerSelf: boolean, narrowed: boolean): Promise<GemPackage[]> {
    const all = (await this.packagesQuery().where('packages.owner_id', '=', owner.id).where('packages.deleted_at', 'is', null).orderBy('packages.lower_name').execute()) as GemPackage[];
    const out: GemPackage[] = [];
    for (const p of all) {
      const visibility = p.inherit_access && p.repository_id != null && p.repo_visibility ? p.repo_visibility : p.visibility;
      if (ownerSelf || (!narrowed && (visibility === 'public' || (visibility === 'internal' && actor.kind !== 'anonymous')))) out.push(p);
      else if (actor.kind !== 'anonymous' && (await this.core.authz.canRead(actor, p))) out.push(p);
    }
    return out;
  }

  /** The derived entries of these gems at their current revisions (stale ones reloaded in one query). */
  async entriesOf(pkgs: GemPackage[]): Promise<GemEntry[]> {
    const stale = pkgs.filter((p) => this.entries.get(String(p.id))?.revision !== p.revision);
    if (stale.length) {
      const byPackage = new Map<number, GemVersion[]>(stale.map((p) => [p.id, []]));
      const nameOf = new Map(stale.map((p) => [p.id, p.name]));
      for (let i = 0; i < stale.length; i += 500) {
        const ids = stale.slice(i, i + 500).map((p) => p.id);
        const rows = await this.core.db
          .selectFrom('package_versions')
          .select(['package_id', 'metadata', 'created_at'])
          .where('package_id', 'in', ids)
          .where('deleted_at', 'is', null)
          .orderBy('id')
          .execute();
        for (const r of rows) byPackage.get(r.package_id)!.push({ name: nameOf.get(r.package_id)!, meta: JSON.parse(r.metadata) as GemVersionMeta, createdAt: r.created_at });
      }
      for (const p of stale) {
        const versions = byPackage.get(p.id)!;
        const { info, line } = compactEntry(p.name, versions);
        this.entries.set(String(p.id), { revision: p.revision, name: p.name, versions, info, line });
      }
    }
    return pkgs.map((p) => this.entries.get(String(p.id))!).map((e, i) => e ?? this.rebuildMissing(pkgs[i]));
  }

  private rebuildMissing(p: GemPackage): GemEntry {
    // Evicted between the load and here (a tiny cache under heavy churn): an empty entry is never served
    // stale, since its revision is unknown, and the next request reloads it.
    const { info, line } = compactEntry(p.name, []);
    return { revision: -1, name: p.name, versions: [], info, line };
  }

  /** A document over a set of gems, cached by kind and the gems' (id, revision) pairs. */
  async document(kind: string, owner: Owner, pkgs: GemPackage[], build: (entries: GemEntry[]) => Buffer): Promise<Doc> {
    let set = this.docKeys.get(pkgs);
    if (!set) {
      set = createHash('sha256').update(pkgs.map((p) => `${p.id}:${p.revision}`).join(',')).digest('base64');
      this.docKeys.set(pkgs, set);
    }
    const key = `${kind}|${owner.id}|${set}`;
    const hit = this.docs.get(key);
    if (hit) return hit;
    const doc = makeDoc(build(await this.entriesOf(pkgs)));
    this.docs.set(key, doc);
    return doc;
  }
}
