// The one access decision. The core's verbs call it (publish, delete, settings, grants, memberships, tokens,
// hooks, signing policy), and so do the formats, the REST API and the web UI where they need an answer before
// a verb runs; nothing else decides. For packages, in order:
//   1. the role: public is readable by all, internal by any signed-in actor; site admins, the owning user and
//      org owners are admin; a package that inherits takes the actor's role on its linked repository, otherwise
//      its own package_access rows; a job token writes the packages that inherit from its repository and has
//      the roles its repository was granted (never admin);
//   2. the credential's scopes cap the role (read:packages, write:packages, delete:packages);
//   3. a fine-grained credential (`actor.limit`) reaches only the resources it names, as far as it names them,
//      and what is public for reading; a trusted publisher (OIDC) holds exactly the reach its policy names;
//   4. a registry token (from /v2/token) does only the repository actions it was issued for, on container
//      images, and nothing else anywhere.
// Whoever may not read a package gets NotFound (an anonymous client gets Unauthorized, so its client asks
// for credentials) — a private package is indistinguishable from a missing one.
// Management (`manage`): each kind of change needs its scope (GitHub's: repo, admin:org, admin:org_hook,
// admin:repo_hook, user, site_admin) and a role on its target; job and registry tokens manage nothing.
import { GenerationCache, scopedGeneration, type ChangeGeneration } from '../../db/changes.ts';
import type { Db } from '../../db/database.ts';
import type { Owner, Package, Role, Visibility } from '../../db/tables.ts';
import { WharfError, forbidden, notFound, unauthorized } from '../errors.ts';
import { REACH_RANK, type AccessLimit, type Actor, type LimitResource, type Reach } from './actor.ts';
import type { RepositoryAccess } from './registry-tokens.ts';
import type { Scope } from './tokens.ts';

export type Action = 'read' | 'write' | 'delete' | 'admin';

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };
const NEEDS: Record<Action, Role> = { read: 'read', write: 'write', delete: 'admin', admin: 'admin' };
const SCOPE: Record<Action, Scope> = { read: 'read:packages', write: 'write:packages', delete: 'delete:packages', admin: 'write:packages' };

const REACH_NEEDS: Record<Action, Reach> = { read: 'read', write: 'write', delete: 'delete', admin: 'admin' };
/** The role a reach amounts to for a trusted publisher (which has no role of its own): never admin. */
const REACH_ROLE: Record<Reach, Role> = { read: 'read', write: 'write', delete: 'write', admin: 'write' };

const max = (a: Role | null, b: Role | null): Role | null => (!a ? b : !b ? a : RANK[a] >= RANK[b] ? a : b);

/** A package as the decision needs it (`type` and `name` let a registry token's grants be matched). */
export type PackageRef = Pick<Package, 'id' | 'owner_id' | 'visibility' | 'repository_id' | 'inherit_access'> & Partial<Pick<Package, 'type' | 'name'>>;

type OwnerRef = Pick<Owner, 'id' | 'kind'> & { name?: string };
type RepoRef = { id: number; owner_id: number; visibility: Visibility };

/** A kind of management, and what it is done to. */
export type Management =
  /** An owner's settings: an org's memberships and signing policy (admin:org), a user's own signing policy (user). */
  | { what: 'owner'; owner: OwnerRef }
  /** An owner's webhooks (admin:org_hook). */
  | { what: 'owner-hooks'; owner: OwnerRef }
  /** Creating a repository under an owner (repo). */
  | { what: 'repo-create'; owner: OwnerRef }
  /** Creating an organization (admin:org); `admin` names its first owner. */
  | { what: 'org-create'; adminId: number }
  /** A repository's visibility and collaborators (repo, admin on it). */
  | { what: 'repo'; repo: RepoRef }
  /** A repository's webhooks (admin:repo_hook, admin on it). */
  | { what: 'repo-hooks'; repo: RepoRef }
  /** Minting a job token for a repository (repo + write:packages, write on it). */
  | { what: 'job-token'; repo: RepoRef }
  /** A user's personal access tokens (user; site admins: anyone's, with site_admin). */
  | { what: 'tokens'; userId: number }
  /** Site administration: users, other people's tokens, instance settings (site_admin, a site admin). */
  | { what: 'site' }
  /**
   * The trust policies (OIDC trusted publishing) of a package (admin on it, write:packages), of a repository (admin
   * on it, repo) or of an owner (its owner or org owners, user / admin:org).
   */
  | { what: 'trusted-publishers'; owner: OwnerRef; repo?: RepoRef; pkg?: PackageRef };

const MANAGE_SCOPE: Record<Management['what'], Scope> = {
  owner: 'admin:org', 'owner-hooks': 'admin:org_hook', 'repo-create': 'repo', 'org-create': 'admin:org', repo: 'repo',
  'repo-hooks': 'admin:repo_hook', 'job-token': 'repo', tokens: 'user', site: 'site_admin', 'trusted-publishers': 'admin:org',
};

/** Does a registry token grant `action` (pull, push, delete) on the repository `name`? */
function grants(access: RepositoryAccess[], name: string, action: string): boolean {
  const lower = name.toLowerCase();
  return access.some((a) => a.type === 'repository' && a.name.toLowerCase() === lower && (a.actions.includes(action) || a.actions.includes('*')));
}
const REGISTRY_ACTION: Record<Action, string> = { read: 'pull', write: 'push', delete: 'delete', admin: 'admin' };

/**
 * The tables a cached role is read from (computeRole; the package's own columns are part of its key). Owners and
 * repositories carry the foreign-key cascades: a deleted user, organization or repository takes its memberships,
 * collaborators and grants with it, and only the owners or repositories statement is seen.
 */
export const ROLE_TABLES = ['owners', 'org_members', 'repositories', 'repo_collaborators', 'package_access'];

export class Authorizer {
  /**
   * Roles, repository visibilities and owner names, until a table they are read from changes (a grant, a
   * membership, a visibility, a deleted owner): publishing, downloads and everything else leave them cached.
   */
  private readonly roles: GenerationCache<Role | null>;
  private readonly repoVisibility: GenerationCache<Visibility | undefined>;
  private readonly ownerNames: GenerationCache<string | undefined>;
  private readonly proxyOwners: GenerationCache<boolean>;

  constructor(private readonly db: Db, changes: ChangeGeneration) {
    this.roles = new GenerationCache(scopedGeneration(changes, ROLE_TABLES), undefined, 'access');
    this.repoVisibility = new GenerationCache(scopedGeneration(changes, ['repositories', 'owners']), undefined, 'access');
    this.ownerNames = new GenerationCache(scopedGeneration(changes, ['owners']), undefined, 'access');
    this.proxyOwners = new GenerationCache(scopedGeneration(changes, ['proxies', 'owners']), undefined, 'access');
  }

  /**
   * Refuses a write into a pull-through proxy's organization to everyone, site admins included: its packages are
   * its upstream's, kept by the proxy itself (the system actor). A version published there would be served in
   * place of the upstream's. Deleting cached versions stays possible (retention, an admin's cleanup).
   */
  private async refuseProxyWrite(actor: Actor, ownerId: number): Promise<void> {
    if (actor.kind === 'system') return;
    const proxy = await this.proxyOwners.get(String(ownerId), async () => !!(await this.db.selectFrom('proxies').select('owner_id').where('owner_id', '=', ownerId).executeTakeFirst()));
    if (proxy) throw forbidden('this organization is a pull-through proxy: its packages come from its upstream, and nobody publishes into them');
  }

  /** The registry repository name of a package (OWNER/NAME), for matching a registry token's grants. */
  private async registryName(pkg: PackageRef & { owner_name?: string }): Promise<string> {
    const owner = pkg.owner_name ?? (await this.ownerNames.get(String(pkg.owner_id), async () => (await this.db.selectFrom('owners').select('name').where('id', '=', pkg.owner_id).executeTakeFirst())?.name));
    return `${owner}/${pkg.name}`;
  }

  /** The visibility that applies: the linked repository's when the package inherits, else its own. */
  async effectiveVisibility(pkg: PackageRef): Promise<Visibility> {
    if (pkg.inherit_access && pkg.repository_id != null) {
      const id = pkg.repository_id;
      const visibility = await this.repoVisibility.get(String(id), async () => (await this.db.selectFrom('repositories').select('visibility').where('id', '=', id).executeTakeFirst())?.visibility);
      if (visibility) return visibility;
    }
    return pkg.visibility;
  }

  /**
   * Does the owner have a live package of `type` that is not public (by its own visibility or its repository's)?
   * A per-owner source (NuGet) challenges anonymous clients for what it cannot show only when it has
   * something to hide, so a public source answers a plain 404 for a missing package.
   */
  async hasNonPublic(ownerId: number, type: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('packages')
      .leftJoin('repositories', 'repositories.id', 'packages.repository_id')
      .select('packages.id')
      .where('packages.owner_id', '=', ownerId)
      .where('packages.type', '=', type)
      .where('packages.deleted_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb.and([eb('packages.inherit_access', '=', 1), eb('repositories.id', 'is not', null), eb('repositories.visibility', '!=', 'public')]),
          eb.and([eb.or([eb('packages.inherit_access', '=', 0), eb('repositories.id', 'is', null)]), eb('packages.visibility', '!=', 'public')]),
        ]),
      )
      .limit(1)
      .executeTakeFirst();
    return !!row;
  }

  /** The actor's role on a package, before token scopes are applied; null when it may not even read. */
  async roleOn(actor: Actor, pkg: PackageRef): Promise<Role | null> {
    if (actor.kind === 'system') return 'admin';
    if (actor.kind === 'publisher') {
      const visibility = await this.effectiveVisibility(pkg);
      const reach = await this.reachOn(actor.limit, pkg);
      return max(visibility === 'public' || visibility === 'internal' ? 'read' : null, reach ? REACH_ROLE[reach] : null);
    }
    // The role before any limit (limits are applied by the callers): a person's, a job's, or anonymous.
    const who = actor.kind === 'user' ? `u${actor.user.id}:${actor.user.isAdmin ? 1 : 0}` : actor.kind === 'job' ? `j${actor.repositoryId}` : 'a';
    const key = `${who}|${pkg.id}|${pkg.owner_id}|${pkg.visibility}|${pkg.repository_id}|${pkg.inherit_access}`;
    return this.roles.get(key, () => this.computeRole(actor, pkg));
  }

  private async computeRole(actor: Actor, pkg: PackageRef): Promise<Role | null> {
    const visibility = await this.effectiveVisibility(pkg);
    let role: Role | null = null;
    if (visibility === 'public') role = 'read';
    if (visibility === 'internal' && actor.kind !== 'anonymous') role = 'read';

    if (actor.kind === 'user') {
      const u = actor.user;
      if (u.isAdmin || pkg.owner_id === u.id) return 'admin';
      if (await this.isOrgOwner(pkg.owner_id, u.id)) return 'admin';
      if (pkg.inherit_access && pkg.repository_id != null) {
        role = max(role, await this.repoRole(pkg.repository_id, u.id));
      } else {
        const row = await this.db.selectFrom('package_access').select('role').where('package_id', '=', pkg.id).where('user_id', '=', u.id).executeTakeFirst();
        role = max(role, row?.role ?? null);
      }
    } else if (actor.kind === 'job') {
      // Its repository's packages, while they inherit its access. One whose inheritance is off is managed on its
      // own: the job reaches it only through a grant to its repository (GitHub's "Manage Actions access").
      if (pkg.inherit_access && pkg.repository_id === actor.repositoryId) role = max(role, 'write');
      const row = await this.db.selectFrom('package_access').select('role').where('package_id', '=', pkg.id).where('repository_id', '=', actor.repositoryId).executeTakeFirst();
      // A job never administers: its grant is capped at write.
      role = max(role, row?.role === 'admin' ? 'write' : (row?.role ?? null));
    }
    return role;
  }

  /**
   * How far a fine-grained credential reaches on `pkg`: the widest reach among the resources naming it, else
   * read when the package is public (anyone may), else null (the credential cannot see it at all).
   */
  async limitReach(limit: AccessLimit, pkg: PackageRef): Promise<Reach | null> {
    const reach = await this.reachOn(limit, pkg);
    if (reach) return reach;
    return (await this.effectiveVisibility(pkg)) === 'public' ? 'read' : null;
  }

  /** The widest reach among the resources of `limit` that name `pkg`, or null. */
  private async reachOn(limit: AccessLimit, pkg: PackageRef): Promise<Reach | null> {
    let best: Reach | null = null;
    let facts: { type: string; name: string } | undefined;
    for (const r of limit.resources) {
      if (r.ownerId !== pkg.owner_id) continue;
      // A repository names the packages that inherit its access (one whose inheritance is off is managed on its own).
      if (r.repositoryId != null && (r.repositoryId !== pkg.repository_id || !pkg.inherit_access)) continue;
      if (r.packageId != null && r.packageId !== pkg.id) continue;
      if (r.type != null || r.name != null) {
        facts ??= await this.packageFacts(pkg);
        if (!facts) continue;
        if (r.type != null && r.type !== facts.type) continue;
        if (r.name != null && r.name.toLowerCase() !== facts.name.toLowerCase()) continue;
      }
      if (!best || REACH_RANK[r.reach] > REACH_RANK[best]) best = r.reach;
    }
    return best;
  }

  private async packageFacts(pkg: PackageRef): Promise<{ type: string; name: string } | undefined> {
    if (pkg.type !== undefined && pkg.name !== undefined) return { type: pkg.type, name: pkg.name };
    return this.db.selectFrom('packages').select(['type', 'name']).where('id', '=', pkg.id).executeTakeFirst();
  }

  /** Does a resource of `limit` let its holder create the package `target` under `owner`, linked to `repositoryId`? */
  private limitCovers(limit: AccessLimit, ownerId: number, repositoryId: number | null, target: { type: string; name: string } | undefined): boolean {
    const fits = (r: LimitResource) =>
      r.ownerId === ownerId && REACH_RANK[r.reach] >= REACH_RANK.write && r.packageId == null &&
      // Without a target (a format's check before the upload names its package), any write reach under the
      // owner lets the upload be read; the core checks again with the name before anything is stored.
      (!target || ((r.repositoryId == null || r.repositoryId === repositoryId) && (r.type == null || r.type === target.type) && (r.name == null || r.name.toLowerCase() === target.name.toLowerCase())));
    return limit.resources.some(fits);
  }

  /** Does a resource of `limit` reach some package of `type` under the owner far enough to write it? */
  private async limitMayPushUnder(limit: AccessLimit, ownerId: number, type: string): Promise<boolean> {
    for (const r of limit.resources) {
      if (r.ownerId !== ownerId || REACH_RANK[r.reach] < REACH_RANK.write) continue;
      if (r.type != null && r.type !== type) continue;
      if (r.packageId != null && (await this.packageFacts({ id: r.packageId } as PackageRef))?.type !== type) continue;
      return true;
    }
    return false;
  }

  /** Throws unless `actor` may do `action` on `pkg`; returns the actor's role. */
  async authorize(actor: Actor, action: Action, pkg: PackageRef): Promise<Role> {
    const role = await this.roleOn(actor, pkg);
    if (!role) throw actor.kind === 'anonymous' ? unauthorized() : notFound();
    if (actor.kind === 'anonymous') {
      if (RANK[role] < RANK[NEEDS[action]]) throw unauthorized();
      return role;
    }
    // Before anything that tells a private package exists: outside its reach, a limited credential sees nothing.
    const reach = actor.limit ? await this.limitReach(actor.limit, pkg) : null;
    if (actor.limit && !reach) throw notFound();
    if (!actor.scopes.has(SCOPE[action])) {
      // A credential that may not even read the package learns nothing about it.
      if (!actor.scopes.has('read:packages')) throw notFound();
      throw forbidden(`your token lacks the ${SCOPE[action]} scope`);
    }
    if (RANK[role] < RANK[NEEDS[action]]) throw forbidden(`you need ${NEEDS[action]} access to this package`);
    if (reach && REACH_RANK[reach] < REACH_RANK[REACH_NEEDS[action]]) throw forbidden(`this token reaches this package for ${reach} only`);
    if (actor.registry) {
      // Checked last: the person may, but the token was issued for less; 401 sends a container client for a
      // wider token. Anything but a container image is out of a registry token's reach.
      if (pkg.type !== 'container') throw notFound();
      const name = await this.registryName(pkg);
      if (!grants(actor.registry, name, REGISTRY_ACTION[action])) throw unauthorized(`the registry token does not grant ${REGISTRY_ACTION[action]} on ${name}`);
    }
    if (action === 'write') await this.refuseProxyWrite(actor, pkg.owner_id);
    return role;
  }

  /**
   * Authorizes `action` on a package looked up by name: a missing package and one the actor may not read both
   * throw `missing()` (each protocol's own "not found", or its challenge for anonymous clients), word for word.
   */
  async authorizeFound<T extends PackageRef>(actor: Actor, action: Action, pkg: T | undefined, missing: () => Error): Promise<T> {
    if (!pkg) throw missing();
    try {
      await this.authorize(actor, action, pkg);
    } catch (e) {
      if (e instanceof WharfError && e.kind === 'NotFound') throw missing();
      // An anonymous client is challenged for a hidden package exactly as for a missing one (same message).
      if (e instanceof WharfError && e.kind === 'Unauthorized' && actor.kind === 'anonymous' && (await this.roleOn(actor, pkg)) === null) throw missing();
      throw e;
    }
    return pkg;
  }

  /** True when `actor` may read `pkg` (for filtering lists and search). */
  async canRead(actor: Actor, pkg: PackageRef): Promise<boolean> {
    if (actor.kind === 'anonymous') return (await this.roleOn(actor, pkg)) !== null;
    if (!actor.scopes.has('read:packages')) return false;
    if ((await this.roleOn(actor, pkg)) === null) return false;
    if (actor.limit && !(await this.limitReach(actor.limit, pkg))) return false;
    if (actor.registry) return pkg.type === 'container' && grants(actor.registry, await this.registryName(pkg), 'pull');
    return true;
  }

  /**
   * May `actor` create a new package under `owner` (linked to `repositoryId`, if any)? Users may publish to
   * themselves and to orgs they belong to; a job only to its repository's owner, linked to its repository.
   * `target` names the package to be (a registry token may create only a container image it was granted push on).
   */
  /**
   * Publishing into `owner`: into a package that exists (`pkg`) needs write on it, a new one the right to create it
   * (authorizeCreate). A package the actor may not see answers exactly as a missing one they may not create: its
   * existence is never confirmed (only someone who could have created it learns, by a 404, that the name is taken).
   */
  async authorizePublish(actor: Actor, owner: Pick<Owner, 'id' | 'kind' | 'name'>, pkg: PackageRef | undefined, repositoryId: number | null, target?: { type: string; name: string }): Promise<void> {
    if (!pkg) return this.authorizeCreate(actor, owner, repositoryId, target);
    try {
      await this.authorize(actor, 'write', pkg);
    } catch (e) {
      if (!(e instanceof WharfError && e.kind === 'NotFound')) throw e;
      await this.authorizeCreate(actor, owner, repositoryId, target);
      throw e;
    }
  }

  async authorizeCreate(actor: Actor, owner: Pick<Owner, 'id' | 'kind' | 'name'>, repositoryId: number | null, target?: { type: string; name: string }): Promise<void> {
    if (actor.kind === 'anonymous') throw unauthorized();
    if (actor.kind === 'system') return;
    if (!actor.scopes.has('write:packages')) throw forbidden('your token lacks the write:packages scope');
    await this.refuseProxyWrite(actor, owner.id);
    if (actor.registry) {
      const name = `${owner.name}/${target?.name ?? ''}`;
      // 401: a container client asks for a token granting push; anything else is out of a registry token's reach.
      if (target?.type !== 'container' || !grants(actor.registry, name, 'push')) throw unauthorized(`the registry token does not grant push on ${name}`);
    }
    if (actor.limit && !this.limitCovers(actor.limit, owner.id, repositoryId, target)) {
      throw forbidden(`this token may not create ${target ? `${target.type} package ${owner.name}/${target.name}` : `packages under ${owner.name}`}${repositoryId != null ? ' linked to that repository' : ''}`);
    }
    // A trusted publisher's policy is its grant: what it covers may be created.
    if (actor.kind === 'publisher') return;
    if (actor.kind === 'job') {
      if (owner.id !== actor.repositoryOwnerId) throw jobElsewhere(actor.repositoryName, owner.name);
      if (repositoryId === actor.repositoryId) return;
      throw forbidden(`a job token of ${actor.repositoryName} may only create packages linked to that repository`);
    }
    const u = actor.user;
    if (u.isAdmin || owner.id === u.id) return;
    if (owner.kind === 'org' && (await this.orgRole(owner.id, u.id))) return;
    throw forbidden(`you may not publish packages to ${owner.name}`);
  }

  /**
   * Before reading an upload that names its package inside (gems, nupkgs): could the actor write any package
   * of `type` under `owner`? Creating there, or a write grant on one of its packages or repositories, is enough;
   * the package itself is authorized once the upload is parsed.
   */
  async authorizePushUnder(actor: Actor, owner: Pick<Owner, 'id' | 'kind' | 'name'>, type: string): Promise<void> {
    if (actor.kind === 'anonymous') throw unauthorized();
    if (actor.kind === 'system') return;
    if (!actor.scopes.has('write:packages')) throw forbidden('your token lacks the write:packages scope');
    if (actor.registry) throw forbidden('a registry token is good only for the container registry');
    await this.refuseProxyWrite(actor, owner.id);
    if (actor.limit && !(await this.limitMayPushUnder(actor.limit, owner.id, type))) {
      throw forbidden(`this token may not publish ${type} packages to ${owner.name}`);
    }
    if (actor.kind === 'publisher') return;
    if (actor.kind === 'job') {
      if (actor.repositoryOwnerId !== owner.id) throw forbidden(`a job token of ${actor.repositoryName} may not publish to ${owner.name}`);
      return;
    }
    try {
      await this.authorizeCreate(actor, owner, null);
      return;
    } catch (e) {
      if (!(e instanceof WharfError && e.kind === 'Forbidden')) throw e;
    }
    const uid = actor.user.id;
    const granted = await this.db
      .selectFrom('package_access')
      .innerJoin('packages', 'packages.id', 'package_access.package_id')
      .select('packages.id')
      .where('packages.owner_id', '=', owner.id)
      .where('packages.type', '=', type)
      .where('package_access.user_id', '=', uid)
      .where('package_access.role', 'in', ['write', 'admin'])
      .executeTakeFirst();
    if (granted) return;
    const collaborator = await this.db
      .selectFrom('repo_collaborators')
      .innerJoin('repositories', 'repositories.id', 'repo_collaborators.repository_id')
      .select('repositories.id')
      .where('repositories.owner_id', '=', owner.id)
      .where('repo_collaborators.user_id', '=', uid)
      .where('repo_collaborators.role', 'in', ['write', 'admin'])
      .executeTakeFirst();
    if (!collaborator) throw forbidden(`you may not publish packages to ${owner.name}`);
  }

  /**
   * Throws unless `actor` may make the change `m`: its credential holds the scope that kind of change needs, and
   * the person has the role it needs on the target. What the actor may not even see answers NotFound.
   */
  async manage(actor: Actor, m: Management): Promise<void> {
    if (actor.kind === 'system') return;
    if (actor.kind === 'anonymous') throw unauthorized();
    if (actor.kind === 'job') throw forbidden('a job token publishes packages; it manages nothing');
    if (actor.kind === 'publisher') throw forbidden('a trusted publishing token publishes packages; it manages nothing');
    if (actor.registry) throw forbidden('a registry token is good only for the container registry');
    const u = actor.user;
    if (actor.limit) {
      // A fine-grained token manages nothing; say so only to one who could see the target at all.
      const repo = 'repo' in m ? m.repo : null;
      if (repo && !(await this.canReadRepo(actor, repo))) throw notFound();
      throw forbidden('a fine-grained token reaches only the packages it names; it manages nothing');
    }
    // A user's own settings are the `user` scope's, an organization's the `admin:org` scope's (as on GitHub).
    const scope: Scope = (m.what === 'owner' || m.what === 'trusted-publishers') && m.owner.kind === 'user' ? 'user' : MANAGE_SCOPE[m.what];
    if (m.what === 'trusted-publishers' && (m.pkg || m.repo)) {
      // A package's policies are its settings (admin on it, as PATCH needs); a repository's are the repository's.
      const role = m.pkg ? await this.roleOn(actor, m.pkg) : null;
      if (m.pkg ? role === null : !(await this.canReadRepo(actor, m.repo!))) throw notFound();
      if (m.pkg ? role !== 'admin' : !(await this.hasRole(u, { what: 'repo', repo: m.repo! }))) throw forbidden(m.pkg ? 'you need admin on this package to manage its trusted publishers' : FORBIDDEN.repo);
      const needs: Scope = m.pkg ? 'write:packages' : 'repo';
      if (!actor.scopes.has(needs)) throw forbidden(`your token lacks the ${needs} scope`);
      return;
    }
    const allowed = await this.hasRole(u, m);
    if (!allowed) {
      const repo = 'repo' in m ? m.repo : null;
      if (repo && !(await this.canReadRepo(actor, repo))) throw notFound();
      throw forbidden(FORBIDDEN[m.what]);
    }
    if (!actor.scopes.has(scope)) throw forbidden(`your token lacks the ${scope} scope`);
  }

  /** True when `actor` may make the change `m` (for showing or hiding a page's controls). */
  async mayManage(actor: Actor, m: Management): Promise<boolean> {
    try {
      await this.manage(actor, m);
      return true;
    } catch (e) {
      if (e instanceof WharfError) return false;
      throw e;
    }
  }

  /** Does the person (whatever their credential) have the role the change needs? */
  /**
   * Whether the user who minted a job token still may (write on its repository, not suspended): a job token acts
   * for the repository, but never outlives its minter's right to make it.
   */
  async minterStillMay(u: { id: number; isAdmin: boolean; suspended: boolean }, repo: RepoRef): Promise<boolean> {
    return !u.suspended && this.hasRole(u, { what: 'job-token', repo });
  }

  private async hasRole(u: { id: number; isAdmin: boolean }, m: Management): Promise<boolean> {
    if (u.isAdmin) return true;
    switch (m.what) {
      case 'owner':
      case 'owner-hooks':
      case 'repo-create':
      case 'trusted-publishers':
        return m.owner.id === u.id || (m.owner.kind === 'org' && (await this.isOrgOwner(m.owner.id, u.id)));
      case 'org-create':
        return m.adminId === u.id;
      case 'repo':
      case 'repo-hooks':
        return (await this.repoRole(m.repo.id, u.id)) === 'admin';
      case 'job-token': {
        const role = await this.repoRole(m.repo.id, u.id);
        return role === 'write' || role === 'admin';
      }
      case 'tokens':
        return m.userId === u.id;
      case 'site':
        return false;
    }
  }

  /**
   * May `actor` see a repository (its page, the packages linked to it)? Public ones: everyone; internal: any
   * signed-in actor; private: site admins and those with a role on it; a job: its own repository. A registry
   * token sees public repositories only.
   */
  async canReadRepo(actor: Actor, repo: { id: number; owner_id: number; visibility: Visibility }): Promise<boolean> {
    if (repo.visibility === 'public' || actor.kind === 'system') return true;
    if (actor.kind === 'anonymous' || actor.registry) return false;
    if (!actor.scopes.has('read:packages') && !actor.scopes.has('repo')) return false;
    if (actor.limit) {
      // A limited credential sees a private or internal repository only when it names the repository or its owner as a whole.
      if (!actor.limit.resources.some((r) => r.ownerId === repo.owner_id && r.packageId == null && r.type == null && r.name == null && (r.repositoryId == null || r.repositoryId === repo.id))) return false;
      if (actor.kind === 'publisher') return true;
    }
    if (actor.kind === 'job') return repo.visibility === 'internal' || actor.repositoryId === repo.id;
    if (repo.visibility === 'internal' || actor.user.isAdmin) return true;
    return (await this.repoRole(repo.id, actor.user.id)) !== null;
  }

  /** May `actor` list an organization's members (its members and site admins, with read:org)? */
  async canSeeMembers(actor: Actor, org: { id: number }): Promise<boolean> {
    if (actor.kind === 'system') return true;
    if (actor.kind !== 'user' || actor.registry || actor.limit || !actor.scopes.has('read:org')) return false;
    return actor.user.isAdmin || (await this.orgRole(org.id, actor.user.id)) !== null;
  }

  /** The user's role on a repository (owner and org owners: admin; org members: read; collaborators: theirs). */
  private async repoRole(repositoryId: number, userId: number): Promise<Role | null> {
    const repo = await this.db.selectFrom('repositories').select(['owner_id', 'visibility']).where('id', '=', repositoryId).executeTakeFirst();
    if (!repo) return null;
    if (repo.owner_id === userId) return 'admin';
    const org = await this.orgRole(repo.owner_id, userId);
    if (org === 'owner') return 'admin';
    const collab = await this.db.selectFrom('repo_collaborators').select('role').where('repository_id', '=', repositoryId).where('user_id', '=', userId).executeTakeFirst();
    let role: Role | null = collab?.role ?? null;
    if (org === 'member') role = max(role, 'read');
    if (repo.visibility !== 'private') role = max(role, 'read');
    return role;
  }

  private async orgRole(orgId: number, userId: number): Promise<'owner' | 'member' | null> {
    const row = await this.db.selectFrom('org_members').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
    return row?.role ?? null;
  }

  private async isOrgOwner(orgId: number, userId: number): Promise<boolean> {
    return (await this.orgRole(orgId, userId)) === 'owner';
  }
}

/** A job token's refusal under another owner, the same wherever it is decided (routes check it before a body is read). */
export const jobElsewhere = (repositoryName: string, owner: string) => forbidden(`a job token of ${repositoryName} may not publish to ${owner}`);

const FORBIDDEN: Record<Management['what'], string> = {
  owner: 'you must be an owner of this organization',
  'owner-hooks': 'you must be an owner of this organization to manage its webhooks',
  'repo-create': 'you may only create repositories for yourself and the organizations you own',
  'org-create': 'only site administrators may create organizations for others',
  repo: 'you need admin on this repository',
  'repo-hooks': 'you need admin on this repository to manage its hooks',
  'job-token': 'you need write on this repository to mint job tokens',
  tokens: "you may only manage your own tokens",
  site: 'site administrators only',
  'trusted-publishers': 'you must be an owner of this organization to manage its trusted publishers',
};
