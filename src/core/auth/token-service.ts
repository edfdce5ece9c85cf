// Personal access tokens and job tokens: mint (shown once), list, revoke, and turn a presented token into an Actor.
import { GenerationCache, scopedGeneration, type ChangeGeneration } from '../../db/changes.ts';
import type { Db } from '../../db/database.ts';
import type { Token } from '../../db/tables.ts';
import { nowIso } from '../clock.ts';
import { forbidden, invalid, notFound } from '../errors.ts';
import { checkOwnerName, checkRepoName } from '../names.ts';
import type { Identity } from '../identity/identity.ts';
import { ALL_SCOPES, type AccessLimit, type Actor, type LimitResource, type Reach } from './actor.ts';
import type { Authorizer } from './authorize.ts';
import { AuditLog } from '../audit/audit.ts';
import { checkPackageName, checkPackageType, checkReach, defaultReach, formatResource, MAX_RESOURCES, REACH_SCOPE, type ResourceSpec } from './selection.ts';
import { publisherActor } from './trusted-publishers.ts';
import { hashToken, looksLikeToken, mintToken, parseScopes, sameHash, type Scope } from './tokens.ts';

/** A token's row as lookups need it, with the limit of a fine-grained token. */
type TokenRow = NonNullable<Awaited<ReturnType<TokenService['loadRow']>>> & { limit?: AccessLimit; minter_gone?: boolean };

/** One resource of a fine-grained token, as lists show it (the REST shape of `resources`). */
export interface ResourceInfo {
  owner: string;
  repository: string | null;
  package: { type: string; name: string } | null;
  permission: Reach;
}

/** A resource resolved to ids, ready to store. */
type ResourceRow = { owner_id: number; repository_id: number | null; package_id: number | null; package_type: string | null; package_name: string | null; reach: Reach };

export interface TokenInfo {
  id: number;
  name: string;
  kind: 'pat' | 'job' | 'publisher';
  scopes: Scope[];
  token_prefix: string;
  repository_id: number | null;
  expires_at: string | null;
  last_used_at: string | null;
  created_at: string;
  /** What a fine-grained token is limited to; null for a classic token (everything its person reaches). */
  resources: ResourceInfo[] | null;
}

const info = (t: Token, resources: ResourceInfo[] | null = null): TokenInfo => ({
  id: t.id,
  name: t.name,
  kind: t.kind,
  scopes: t.scopes.split(',').filter(Boolean) as Scope[],
  token_prefix: t.token_prefix,
  repository_id: t.repository_id,
  expires_at: t.expires_at,
  last_used_at: t.last_used_at,
  created_at: t.created_at,
  resources,
});

/**
 * Every table loadRow and withLimit read (a job token's row also says whether its minter still may mint it:
 * memberships and collaborators move that).
 */
const TOKEN_ROW_TABLES = ['tokens', 'owners', 'repositories', 'token_resources', 'org_members', 'repo_collaborators'];

export class TokenService {
  /** last_used_at is written in batches, never on the request path. */
  private readonly used = new Map<number, string>();

  /**
   * Token rows by hash or id, until one of the tables they are read from changes (a revocation, a renamed or
   * demoted user, a moved repository); publishing writes none of them.
   */
  private readonly rows: GenerationCache<TokenRow | undefined>;

  constructor(private readonly db: Db, private readonly identity: Identity, changes: ChangeGeneration, private readonly authz: Authorizer, private readonly audit: AuditLog = new AuditLog(db)) {
    this.rows = new GenerationCache(scopedGeneration(changes, TOKEN_ROW_TABLES));
  }

  /**
   * Mints a personal access token for a user; returns the clear token once. One's own tokens need the `user`
   * scope, anyone else's `site_admin`; and a credential can grant only scopes it holds itself. With `resources`
   * the token is fine-grained: it reaches only those (see selection.ts), and holds package scopes only.
   */
  async createPersonal(actor: Actor, userName: string, opts: { scopes: string; name?: string; expiresInMs?: number | null; resources?: readonly ResourceSpec[] | null }): Promise<{ token: string; info: TokenInfo }> {
    const user = await this.identity.requireUser(userName);
    await this.authz.manage(actor, this.isSelf(actor, user.id) ? { what: 'tokens', userId: user.id } : { what: 'site' });
    const scopes = [...parseScopesOrInvalid(opts.scopes)];
    if (!scopes.length) throw invalid('a token needs at least one scope');
    if (actor.kind !== 'anonymous') for (const s of scopes) if (!actor.scopes.has(s)) throw forbidden(`your credentials lack ${s}, so they cannot grant it`);
    const resources = opts.resources != null ? await this.resolveSelection(user, new Set(scopes), opts.resources) : null;
    return this.insert(actor, { kind: 'pat', userId: user.id, name: opts.name ?? 'token', scopes, repositoryId: null, expiresInMs: opts.expiresInMs ?? null, resources }, user.id);
  }

  /**
   * Resolves a selection to ids. Everything named must exist and be visible to the token's person (a repository
   * they cannot see is "not found", word for word as a missing one); a package that does not exist yet, or
   * that they cannot see, is kept by type and name, so the answer never tells whether a hidden package exists
   * (the token reaches it only if its person ever may). A fine-grained token manages nothing, so it carries
   * package scopes only, and each resource's permission needs the scope that gives it meaning.
   */
  private async resolveSelection(user: { id: number; name: string; is_admin: number }, scopes: ReadonlySet<Scope>, specs: readonly ResourceSpec[]): Promise<ResourceRow[]> {
    if (!specs.length) throw invalid('a fine-grained token names at least one owner, repository or package');
    if (specs.length > MAX_RESOURCES) throw invalid(`a fine-grained token names at most ${MAX_RESOURCES} resources`);
    const extra = [...scopes].filter((s) => !s.endsWith(':packages'));
    if (extra.length) throw invalid(`a fine-grained token reaches packages only, so it cannot hold ${extra.join(', ')}`);
    const person: Actor = { kind: 'user', user: { id: user.id, name: user.name, isAdmin: user.is_admin === 1 }, scopes: ALL_SCOPES, tokenId: null };
    const out: ResourceRow[] = [];
    for (const spec of specs) {
      const reach = spec.permission != null ? checkReach(spec.permission) : defaultReach(scopes);
      if (!scopes.has(REACH_SCOPE[reach])) throw invalid(`permission ${reach} on ${formatResource(spec)} needs the ${REACH_SCOPE[reach]} scope`);
      // Checked before any query: a name no owner can have (a NUL byte, say) is simply not one.
      const owner = await this.identity.findOwner(checkOwnerName(spec.owner));
      if (!owner) throw invalid(`no user or organization named "${spec.owner}"`);
      const row: ResourceRow = { owner_id: owner.id, repository_id: null, package_id: null, package_type: null, package_name: null, reach };
      if (spec.repository != null) {
        const repo = await this.identity.findRepo(owner.name, checkRepoName(spec.repository));
        if (!repo || !(await this.authz.canReadRepo(person, repo))) throw invalid(`no repository ${owner.name}/${spec.repository}`);
        row.repository_id = repo.id;
      }
      if (spec.package != null) {
        const type = checkPackageType(spec.package.type);
        const name = checkPackageName(spec.package.name);
        const pkg = await this.db.selectFrom('packages').selectAll().where('owner_id', '=', owner.id).where('type', '=', type).where('lower_name', '=', name.toLowerCase()).where('deleted_at', 'is', null).executeTakeFirst();
        if (pkg && (await this.authz.canRead(person, pkg))) row.package_id = pkg.id;
        else [row.package_type, row.package_name] = [type, name];
      }
      const same = out.find((o) => o.owner_id === row.owner_id && o.repository_id === row.repository_id && o.package_id === row.package_id && o.package_type === row.package_type && o.package_name?.toLowerCase() === row.package_name?.toLowerCase());
      if (same) throw invalid(`${formatResource(spec)} is named twice`);
      out.push(row);
    }
    return out;
  }

  /** Mints a short-lived job token bound to a repository (default one hour): write on it, repo and write:packages. */
  async createJob(actor: Actor, repoSlug: string, opts: { ttlMs?: number } = {}): Promise<{ token: string; info: TokenInfo }> {
    const repo = await this.identity.requireRepo(repoSlug);
    await this.authz.manage(actor, { what: 'job-token', repo });
    if (actor.kind !== 'anonymous' && !actor.scopes.has('write:packages')) throw forbidden('your token lacks the write:packages scope a job token carries');
    const ttl = opts.ttlMs ?? 3600_000;
    if (ttl <= 0 || ttl > 7 * 864e5) throw invalid('job token ttl must be between 1s and 7d');
    return this.insert(actor, { kind: 'job', userId: actor.kind === 'user' ? actor.user.id : null, name: `job:${repo.owner_name}/${repo.name}`, scopes: ['read:packages', 'write:packages'], repositoryId: repo.id, expiresInMs: ttl }, repo.owner_id);
  }

  /** A repository's live job tokens, for its admins (who may revoke them: revoke()). */
  async listJobs(actor: Actor, repoSlug: string): Promise<(TokenInfo & { created_by: string | null })[]> {
    const repo = await this.identity.requireRepo(repoSlug);
    await this.authz.manage(actor, { what: 'repo', repo });
    const rows = await this.db.selectFrom('tokens').leftJoin('owners', 'owners.id', 'tokens.user_id').selectAll('tokens').select('owners.name as minter')
      .where('tokens.kind', '=', 'job').where('tokens.repository_id', '=', repo.id).where('tokens.revoked_at', 'is', null).where('tokens.expires_at', '>', nowIso()).orderBy('tokens.id').execute();
    return rows.map((r) => ({ ...info(r), created_by: r.minter }));
  }

  /** Stores a new token's hash and records its creation in the audit log, in one transaction. */
  private async insert(actor: Actor, v: { kind: 'pat' | 'job'; userId: number | null; name: string; scopes: Scope[]; repositoryId: number | null; expiresInMs: number | null; resources?: ResourceRow[] | null }, ownerId: number) {
    const token = mintToken(v.kind);
    const row = await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const row = await trx
      .insertInto('tokens')
      .values({
        user_id: v.userId,
        kind: v.kind,
        name: v.name,
        token_hash: hashToken(token),
        token_prefix: token.slice(0, 8),
        scopes: v.scopes.join(','),
        repository_id: v.repositoryId,
        expires_at: v.expiresInMs != null ? nowIso(Date.now() + v.expiresInMs) : null,
        revoked_at: null,
        last_used_at: null,
        created_at: nowIso(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
      if (v.resources?.length) await trx.insertInto('token_resources').values(v.resources.map((r) => ({ ...r, token_id: row.id }))).execute();
      const resources = v.resources ? (await this.resourcesOf([row.id], trx)).get(row.id) ?? [] : null;
      await this.audit.record(trx, {
        action: v.kind === 'pat' ? 'personal_access_token.create' : 'job_token.create', actor, ownerId,
        userId: v.kind === 'pat' ? v.userId : null, repositoryId: v.repositoryId, target: row.name,
        details: { access_token_id: row.id, token_prefix: row.token_prefix, scopes: v.scopes, expires_at: row.expires_at, ...(resources ? { resources: resources.map(resourceText) } : {}) },
      });
      return { row, resources };
    });
    return { token, info: info(row.row, row.resources) };
  }

  /** The selections of fine-grained tokens by token id, with today's names (tokens without one are absent). */
  private async resourcesOf(tokenIds: number[], db: Db = this.db): Promise<Map<number, ResourceInfo[]>> {
    const out = new Map<number, ResourceInfo[]>();
    if (!tokenIds.length) return out;
    const rows = await db
      .selectFrom('token_resources as r')
      .leftJoin('owners', 'owners.id', 'r.owner_id')
      .leftJoin('repositories', 'repositories.id', 'r.repository_id')
      .leftJoin('packages', 'packages.id', 'r.package_id')
      .select(['r.token_id', 'r.owner_id', 'r.repository_id', 'r.package_id', 'r.package_type', 'r.package_name', 'r.reach', 'owners.name as owner_name', 'repositories.name as repo_name', 'packages.type as pkg_type', 'packages.name as pkg_name'])
      .where('r.token_id', 'in', tokenIds)
      .orderBy('r.id')
      .execute();
    for (const r of rows) {
      // Something deleted since keeps its place in the list (it matches nothing any more).
      const pkg = r.package_id != null ? { type: r.pkg_type ?? '?', name: r.pkg_name ?? `#${r.package_id} (deleted)` } : r.package_type != null ? { type: r.package_type, name: r.package_name ?? '' } : null;
      const item: ResourceInfo = { owner: r.owner_name ?? `#${r.owner_id} (deleted)`, repository: r.repository_id != null ? (r.repo_name ?? `#${r.repository_id} (deleted)`) : null, package: pkg, permission: r.reach };
      const list = out.get(Number(r.token_id)) ?? [];
      list.push(item);
      out.set(Number(r.token_id), list);
    }
    return out;
  }

  private isSelf(actor: Actor, userId: number): boolean {
    return actor.kind === 'system' || (actor.kind === 'user' && actor.user.id === userId);
  }

  /** A user's live tokens (the token list needs what managing them needs). */
  async listForUser(actor: Actor, userId: number): Promise<TokenInfo[]> {
    await this.authz.manage(actor, this.isSelf(actor, userId) ? { what: 'tokens', userId } : { what: 'site' });
    const rows = await this.db.selectFrom('tokens').selectAll().where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('id').execute();
    const resources = await this.resourcesOf(rows.filter((r) => r.kind === 'pat').map((r) => r.id));
    return rows.map((r) => info(r, resources.get(r.id) ?? null));
  }

  /**
   * Revokes a token given the token itself or its numeric id; `ownerId` limits it to that user's tokens
   * (`repositoryId` to that repository's job tokens). One's own tokens need the `user` scope (a job token one
   * minted included); a repository's job tokens, admin on it (`repo`); anyone else's `site_admin`.
   */
  async revoke(actor: Actor, tokenOrId: string | number, ownerId?: number, repositoryId?: number): Promise<TokenInfo> {
    let q = this.db.selectFrom('tokens').selectAll();
    if (typeof tokenOrId === 'number' || /^\d+$/.test(tokenOrId)) q = q.where('id', '=', Number(tokenOrId));
    else q = q.where('token_hash', '=', hashToken(tokenOrId));
    if (ownerId !== undefined) q = q.where('user_id', '=', ownerId);
    if (repositoryId !== undefined) q = q.where('kind', '=', 'job').where('repository_id', '=', repositoryId);
    const row = await q.executeTakeFirst();
    if (!row) throw notFound('no such token');
    // A credential may always end itself (npm logout revokes the token it presents, whatever its scopes).
    const itself = (actor.kind === 'user' || actor.kind === 'job') && actor.tokenId === row.id && !actor.registry;
    if (!itself) {
      const repo = repositoryId !== undefined && row.repository_id != null ? await this.db.selectFrom('repositories').select(['id', 'owner_id', 'visibility']).where('id', '=', row.repository_id).executeTakeFirst() : undefined;
      await this.authz.manage(actor,
        (row.kind === 'pat' || row.kind === 'job') && row.user_id != null && this.isSelf(actor, row.user_id) ? { what: 'tokens', userId: row.user_id }
        : repo ? { what: 'repo', repo }
        : { what: 'site' });
    }
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const r = await trx.updateTable('tokens').set({ revoked_at: nowIso() }).where('id', '=', row.id).where('revoked_at', 'is', null).executeTakeFirst();
      if (!Number(r.numUpdatedRows)) return;
      const ownerId = row.user_id ?? (row.repository_id != null ? (await trx.selectFrom('repositories').select('owner_id').where('id', '=', row.repository_id).executeTakeFirst())?.owner_id ?? null : null);
      await this.audit.record(trx, {
        action: row.kind === 'pat' ? 'personal_access_token.revoke' : 'job_token.revoke', actor, ownerId,
        userId: row.user_id, repositoryId: row.repository_id, target: row.name, details: { access_token_id: row.id },
      });
    });
    return info(row);
  }

  /**
   * The actor a presented token stands for, or null when it is unknown, expired or revoked.
   * One indexed lookup by hash; no password hashing per request.
   */
  async authenticate(token: string): Promise<Actor | null> {
    if (!looksLikeToken(token)) return null;
    return this.lookup(hashToken(token), null);
  }

  /** The actor for a token id (a registry token names the token it was issued from); null if no longer valid. */
  async authenticateById(id: number): Promise<Actor | null> {
    return this.lookup(null, id);
  }

  private async lookup(hash: string | null, id: number | null): Promise<Actor | null> {
    const row = await this.rows.get(hash !== null ? `h${hash}` : `i${id}`, async () => this.withLimit(await this.loadRow(hash, id)));
    if (!row || (hash !== null && !sameHash(row.token_hash, hash))) return null;
    if (row.revoked_at) return null;
    const now = nowIso();
    if (row.expires_at && row.expires_at <= now) return null;
    this.used.set(row.id, now);
    const scopes = parseScopes(row.scopes);
    if (row.kind === 'publisher') return publisherActor(row.id, row.publisher, scopes);
    if (row.kind === 'job') {
      if (row.repository_id == null || row.repo_owner_id == null || row.minter_gone) return null;
      return { kind: 'job', repositoryId: row.repository_id, repositoryOwnerId: row.repo_owner_id, repositoryName: `${row.repo_owner_name}/${row.repo_name}`, scopes, tokenId: row.id };
    }
    // A suspended user's tokens are refused until the suspension is lifted (the row cache follows `owners`).
    if (row.user_id == null || row.user_name == null || row.suspended_at) return null;
    return { kind: 'user', user: { id: row.user_id, name: row.user_name, isAdmin: row.is_admin === 1, email: row.user_email }, scopes, tokenId: row.id, ...(row.limit ? { limit: row.limit } : {}) };
  }

  private loadRow(hash: string | null, id: number | null) {
    let q = this.db
      .selectFrom('tokens')
      .leftJoin('owners', 'owners.id', 'tokens.user_id')
      .leftJoin('repositories', 'repositories.id', 'tokens.repository_id')
      .leftJoin('owners as repo_owner', 'repo_owner.id', 'repositories.owner_id')
      .select([
        'tokens.id', 'tokens.kind', 'tokens.token_hash', 'tokens.scopes', 'tokens.expires_at', 'tokens.revoked_at', 'tokens.repository_id', 'tokens.publisher',
        'owners.id as user_id', 'owners.name as user_name', 'owners.is_admin', 'owners.suspended_at', 'owners.email as user_email',
        'repositories.owner_id as repo_owner_id', 'repositories.name as repo_name', 'repo_owner.name as repo_owner_name',
      ])
    q = hash !== null ? q.where('tokens.token_hash', '=', hash) : q.where('tokens.id', '=', id!);
    return q.executeTakeFirst();
  }

  /**
   * A personal token's row with the limit its resources make, if it has any (a fine-grained token); a job token's
   * with whether its minter is gone (suspended, or no longer allowed to mint it: removed from the repository or the
   * organization), which ends it as revoking would.
   */
  private async withLimit(row: Awaited<ReturnType<TokenService['loadRow']>>): Promise<TokenRow | undefined> {
    if (row?.kind === 'job' && row.user_id != null && row.repository_id != null && row.repo_owner_id != null) {
      const repo = await this.db.selectFrom('repositories').select(['id', 'owner_id', 'visibility']).where('id', '=', row.repository_id).executeTakeFirst();
      const may = repo ? await this.authz.minterStillMay({ id: row.user_id, isAdmin: row.is_admin === 1, suspended: !!row.suspended_at }, repo) : false;
      if (!may && !row.revoked_at) {
        // Ended for good, as revoking would: the minter getting their rights back does not revive a token that may
        // have leaked meanwhile.
        await this.db.updateTable('tokens').set({ revoked_at: nowIso() }).where('id', '=', row.id).where('revoked_at', 'is', null).execute();
        return { ...row, revoked_at: nowIso(), minter_gone: true };
      }
      return { ...row, minter_gone: !may };
    }
    if (!row || row.kind !== 'pat') return row;
    const rows = await this.db.selectFrom('token_resources').selectAll().where('token_id', '=', row.id).orderBy('id').execute();
    if (!rows.length) return row;
    const resources: LimitResource[] = rows.map((r) => Object.freeze({
      ownerId: Number(r.owner_id), repositoryId: r.repository_id != null ? Number(r.repository_id) : null, packageId: r.package_id != null ? Number(r.package_id) : null,
      type: r.package_type, name: r.package_name, reach: r.reach,
    }));
    return { ...row, limit: Object.freeze({ resources: Object.freeze(resources) }) };
  }

  /** Writes buffered last_used_at values. */
  async flush(): Promise<void> {
    if (!this.used.size) return;
    const batch = [...this.used].sort((a, b) => a[0] - b[0]); // same lock order on every node
    this.used.clear();
    await this.db.transaction().execute(async (trx) => {
      // Never backwards: another node may have written a later use of the same token.
      for (const [id, at] of batch) {
        await trx.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id)
          .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)])).execute();
      }
    });
  }
}

function parseScopesOrInvalid(list: string): Set<Scope> {
  try {
    return parseScopes(list);
  } catch (e) {
    throw invalid((e as Error).message);
  }
}

/** A resource as text, for the audit log (the same words as the CLI's). */
const resourceText = (r: ResourceInfo) => formatResource({ owner: r.owner, repository: r.repository, package: r.package, permission: r.permission });
