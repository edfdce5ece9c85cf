// The one access decision every format, the REST API and the web UI call. Order:
//   1. token scopes cap everything;  2. public is readable by all, internal by any signed-in actor;
//   3. site admins, the owning user and org owners are admin;  4. a package that inherits takes the actor's
//   role on its linked repository; otherwise its own package_access rows;  5. a job token writes the packages
//   linked to its repository and has the roles its repository was granted.
// Whoever may not read a package gets NotFound (an anonymous client gets Unauthorized, so its client asks
// for credentials) — a private package is indistinguishable from a missing one.
import { GenerationCache, type ChangeGeneration } from '../../db/changes.ts';
import type { Db } from '../../db/database.ts';
import type { Owner, Package, Role, Visibility } from '../../db/tables.ts';
import { WharfError, forbidden, notFound, unauthorized } from '../errors.ts';
import type { Actor } from './actor.ts';
import type { Scope } from './tokens.ts';

export type Action = 'read' | 'write' | 'delete' | 'admin';

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };
const NEEDS: Record<Action, Role> = { read: 'read', write: 'write', delete: 'admin', admin: 'admin' };
const SCOPE: Record<Action, Scope> = { read: 'read:packages', write: 'write:packages', delete: 'delete:packages', admin: 'write:packages' };

const max = (a: Role | null, b: Role | null): Role | null => (!a ? b : !b ? a : RANK[a] >= RANK[b] ? a : b);

export type PackageRef = Pick<Package, 'id' | 'owner_id' | 'visibility' | 'repository_id' | 'inherit_access'>;

export class Authorizer {
  /** Roles and repository visibilities, for the current change generation (any grant, membership or visibility change moves it). */
  private readonly roles: GenerationCache<Role | null>;
  private readonly repoVisibility: GenerationCache<Visibility | undefined>;

  constructor(private readonly db: Db, changes: ChangeGeneration) {
    this.roles = new GenerationCache(changes);
    this.repoVisibility = new GenerationCache(changes);
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
      if (pkg.repository_id === actor.repositoryId) role = max(role, 'write');
      const row = await this.db.selectFrom('package_access').select('role').where('package_id', '=', pkg.id).where('repository_id', '=', actor.repositoryId).executeTakeFirst();
      // A job never administers: its grant is capped at write.
      role = max(role, row?.role === 'admin' ? 'write' : (row?.role ?? null));
    }
    return role;
  }

  /** Throws unless `actor` may do `action` on `pkg`; returns the actor's role. */
  async authorize(actor: Actor, action: Action, pkg: PackageRef): Promise<Role> {
    const role = await this.roleOn(actor, pkg);
    if (!role) throw actor.kind === 'anonymous' ? unauthorized() : notFound();
    if (actor.kind !== 'anonymous' && !actor.scopes.has(SCOPE[action])) {
      throw forbidden(`your token lacks the ${SCOPE[action]} scope`);
    }
    if (RANK[role] < RANK[NEEDS[action]]) {
      if (actor.kind === 'anonymous') throw unauthorized();
      throw forbidden(`you need ${NEEDS[action]} access to this package`);
    }
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
      throw e;
    }
    return pkg;
  }

  /** True when `actor` may read `pkg` (for filtering lists and search). */
  async canRead(actor: Actor, pkg: PackageRef): Promise<boolean> {
    if (actor.kind !== 'anonymous' && !actor.scopes.has('read:packages')) return false;
    return (await this.roleOn(actor, pkg)) !== null;
  }

  /**
   * May `actor` create a new package under `owner` (linked to `repositoryId`, if any)? Users may publish to
   * themselves and to orgs they belong to; a job only to its repository's owner, linked to its repository.
   */
  async authorizeCreate(actor: Actor, owner: Pick<Owner, 'id' | 'kind' | 'name'>, repositoryId: number | null): Promise<void> {
    if (actor.kind === 'anonymous') throw unauthorized();
    if (!actor.scopes.has('write:packages')) throw forbidden('your token lacks the write:packages scope');
    if (actor.kind === 'job') {
      if (owner.id === actor.repositoryOwnerId && repositoryId === actor.repositoryId) return;
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
    if (!actor.scopes.has('write:packages')) throw forbidden('your token lacks the write:packages scope');
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

  /** Site admins, the user themself, and owners of an org manage that owner (repos, members, hooks). */
  async canManageOwner(actor: Actor, owner: Pick<Owner, 'id' | 'kind'>): Promise<boolean> {
    if (actor.kind !== 'user') return false;
    if (actor.user.isAdmin || actor.user.id === owner.id) return true;
    return owner.kind === 'org' && (await this.isOrgOwner(owner.id, actor.user.id));
  }

  /** Site admins and those with admin on a repository manage it (its hooks). */
  async canManageRepo(actor: Actor, repo: { id: number }): Promise<boolean> {
    if (actor.kind !== 'user') return false;
    return actor.user.isAdmin || (await this.repoRole(repo.id, actor.user.id)) === 'admin';
  }

  /**
   * May `actor` see a repository (its page, the packages linked to it)? Public ones: everyone; internal: any
   * signed-in actor; private: site admins and those with a role on it; a job: its own repository.
   */
  async canReadRepo(actor: Actor, repo: { id: number; visibility: Visibility }): Promise<boolean> {
    if (repo.visibility === 'public') return true;
    if (actor.kind === 'job') return repo.visibility === 'internal' || actor.repositoryId === repo.id;
    if (actor.kind !== 'user') return false;
    if (repo.visibility === 'internal' || actor.user.isAdmin) return true;
    return (await this.repoRole(repo.id, actor.user.id)) !== null;
  }

  /** The user's role on a repository (owner and org owners: admin; org members: read; collaborators: theirs). */
  async repoRole(repositoryId: number, userId: number): Promise<Role | null> {
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
