// Users, organizations, repositories and their memberships: the owners packages belong to.
import type { Db } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/database.ts';
import type { Owner, Repository, Role, Visibility } from '../../db/tables.ts';
import type { Actor } from '../auth/actor.ts';
import { ALL_SCOPES } from '../auth/actor.ts';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import { nowIso } from '../clock.ts';
import { conflict, forbidden, invalid, notFound, unauthorized } from '../errors.ts';
import { checkOwnerName, checkRepoName, repoSlugFromUrl } from '../names.ts';

export const VISIBILITIES: readonly Visibility[] = ['public', 'private', 'internal'];
export const ROLES: readonly Role[] = ['read', 'write', 'admin'];

export function checkVisibility(v: string): Visibility {
  if (!(VISIBILITIES as readonly string[]).includes(v)) throw invalid(`visibility must be one of ${VISIBILITIES.join(', ')}`);
  return v as Visibility;
}
export function checkRole(r: string): Role {
  if (!(ROLES as readonly string[]).includes(r)) throw invalid(`role must be one of ${ROLES.join(', ')}`);
  return r as Role;
}

/** Suspending and deleting users is for site administrators, with a credential that is the whole person. */
function requireSiteAdmin(by: Actor | 'operator'): void {
  if (by === 'operator') return;
  if (by.kind === 'anonymous') throw unauthorized();
  const full = by.kind === 'user' && !by.registry && [...ALL_SCOPES].every((s) => by.scopes.has(s));
  if (by.kind !== 'user' || !by.user.isAdmin || !full) throw forbidden('site administrators only');
}

export class Identity {
  constructor(private readonly db: Db) {}

  /** Creates a user; the name is unique across users and orgs, case-insensitively. */
  async createUser(input: { name: string; email?: string | null; password?: string | null; isAdmin?: boolean }): Promise<Owner> {
    checkOwnerName(input.name);
    if (input.email != null && !/^[^\s@]+@[^\s@]+$/.test(input.email)) throw invalid(`invalid email "${input.email}"`);
    const password_hash = input.password ? await hashPassword(input.password) : null;
    return this.insertOwner({ kind: 'user', name: input.name, email: input.email ?? null, password_hash, is_admin: input.isAdmin ? 1 : 0 });
  }

  /** Creates an organization owned by `ownerUser`. */
  async createOrg(name: string, ownerUser: string): Promise<Owner> {
    checkOwnerName(name);
    const owner = await this.requireUser(ownerUser);
    return this.db.transaction().execute(async (trx) => {
      const org = await new Identity(trx as unknown as Db).insertOwner({ kind: 'org', name, email: null, password_hash: null, is_admin: 0 });
      await trx.insertInto('org_members').values({ org_id: org.id, user_id: owner.id, role: 'owner' }).execute();
      return org;
    });
  }

  private async insertOwner(v: { kind: 'user' | 'org'; name: string; email: string | null; password_hash: string | null; is_admin: number }): Promise<Owner> {
    try {
      return await this.db
        .insertInto('owners')
        .values({ ...v, lower_name: v.name.toLowerCase(), created_at: nowIso() })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`the name "${v.name}" is already taken`);
      throw e;
    }
  }

  /**
   * Sets a user's password and ends every web session of theirs (whoever knew the old password may hold one).
   * The old password stops working at once on every node: the password cache follows writes to `owners`.
   */
  async setPassword(userName: string, password: string): Promise<void> {
    const user = await this.requireUser(userName);
    const password_hash = await hashPassword(password);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('owners').set({ password_hash }).where('id', '=', user.id).execute();
      await trx.deleteFrom('sessions').where('user_id', '=', user.id).execute();
    });
  }

  /**
   * Suspends a user: their password, tokens and sessions stop working at once, on every node; sessions are ended.
   * Their packages, tokens and memberships stay, for when they are unsuspended. `by`: a site administrator
   * (with a full-scope credential) or 'operator' (the `wharf` CLI, run by whoever holds the database).
   */
  async suspendUser(by: Actor | 'operator', userName: string): Promise<Owner> {
    requireSiteAdmin(by);
    const user = await this.requireUser(userName);
    if (by !== 'operator' && by.kind === 'user' && by.user.id === user.id) throw invalid('you cannot suspend yourself');
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('owners').set({ suspended_at: nowIso() }).where('id', '=', user.id).where('suspended_at', 'is', null).execute();
      await trx.deleteFrom('sessions').where('user_id', '=', user.id).execute();
    });
    return (await this.ownerById(user.id))!;
  }

  /** Lifts a suspension: the user's password and unexpired tokens work again (sessions were ended for good). */
  async unsuspendUser(by: Actor | 'operator', userName: string): Promise<Owner> {
    requireSiteAdmin(by);
    const user = await this.requireUser(userName);
    await this.db.updateTable('owners').set({ suspended_at: null }).where('id', '=', user.id).execute();
    return (await this.ownerById(user.id))!;
  }

  /**
   * Deletes a user with their tokens, sessions, memberships, repositories and hooks (foreign keys cascade).
   * Refused while they own packages or are the only owner of an organization, unless `force`: then their packages
   * are deleted with them (their blobs are collected by gc) and such organizations are left to site administrators.
   */
  async deleteUser(by: Actor | 'operator', userName: string, opts: { force?: boolean } = {}): Promise<{ packages: number }> {
    requireSiteAdmin(by);
    const user = await this.requireUser(userName);
    if (by !== 'operator' && by.kind === 'user' && by.user.id === user.id) throw invalid('you cannot delete yourself');
    return this.db.transaction().execute(async (trx) => {
      const { n } = await trx.selectFrom('packages').select((eb) => eb.fn.countAll<number>().as('n')).where('owner_id', '=', user.id).executeTakeFirstOrThrow();
      const packages = Number(n);
      const soleOwnerOf = await trx
        .selectFrom('org_members as m')
        .innerJoin('owners as o', 'o.id', 'm.org_id')
        .select('o.name')
        .where('m.user_id', '=', user.id)
        .where('m.role', '=', 'owner')
        .where((eb) => eb.not(eb.exists(eb.selectFrom('org_members as other').select('other.user_id').whereRef('other.org_id', '=', 'm.org_id').where('other.role', '=', 'owner').where('other.user_id', '!=', user.id))))
        .execute();
      if (!opts.force && packages > 0) throw conflict(`${user.name} owns ${packages} package${packages === 1 ? '' : 's'}: delete them first, or force the deletion to delete them too`);
      if (!opts.force && soleOwnerOf.length) throw conflict(`${user.name} is the only owner of ${soleOwnerOf.map((o) => o.name).join(', ')}: add another owner first, or force the deletion`);
      await trx.deleteFrom('owners').where('id', '=', user.id).execute();
      return { packages };
    });
  }

  /** The user when `password` is theirs and they are not suspended, else null (constant-time; a missing user still costs a hash). */
  async checkPassword(userName: string, password: string): Promise<Owner | null> {
    const user = await this.findOwner(userName);
    const ok = await verifyPassword(password, user?.kind === 'user' ? user.password_hash : 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    return ok && user?.kind === 'user' && !user.suspended_at ? user : null;
  }

  async findOwner(name: string): Promise<Owner | undefined> {
    return this.db.selectFrom('owners').selectAll().where('lower_name', '=', name.toLowerCase()).executeTakeFirst();
  }

  async ownerById(id: number): Promise<Owner | undefined> {
    return this.db.selectFrom('owners').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async requireOwner(name: string): Promise<Owner> {
    const o = await this.findOwner(name);
    if (!o) throw notFound(`no user or organization named "${name}"`);
    return o;
  }

  async requireUser(name: string): Promise<Owner> {
    const o = await this.findOwner(name);
    if (!o || o.kind !== 'user') throw notFound(`no user named "${name}"`);
    return o;
  }

  async requireOrg(name: string): Promise<Owner> {
    const o = await this.findOwner(name);
    if (!o || o.kind !== 'org') throw notFound(`no organization named "${name}"`);
    return o;
  }

  async listOwners(kind: 'user' | 'org', limit: number, offset: number): Promise<Owner[]> {
    return this.db.selectFrom('owners').selectAll().where('kind', '=', kind).orderBy('id').limit(limit).offset(offset).execute();
  }

  /** Adds or updates a member of an org. */
  async addOrgMember(orgName: string, userName: string, role: 'owner' | 'member' = 'member'): Promise<void> {
    if (role !== 'owner' && role !== 'member') throw invalid('org role must be owner or member');
    const org = await this.requireOrg(orgName);
    const user = await this.requireUser(userName);
    await this.db
      .insertInto('org_members')
      .values({ org_id: org.id, user_id: user.id, role })
      .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role }))
      .execute();
  }

  async removeOrgMember(orgName: string, userName: string): Promise<void> {
    const org = await this.requireOrg(orgName);
    const user = await this.requireUser(userName);
    await this.db.deleteFrom('org_members').where('org_id', '=', org.id).where('user_id', '=', user.id).execute();
  }

  async listOrgMembers(orgId: number): Promise<{ name: string; id: number; role: 'owner' | 'member' }[]> {
    return this.db
      .selectFrom('org_members')
      .innerJoin('owners', 'owners.id', 'org_members.user_id')
      .select(['owners.id', 'owners.name', 'org_members.role'])
      .where('org_members.org_id', '=', orgId)
      .orderBy('owners.lower_name')
      .execute();
  }

  /** The user's role in an org, or null. */
  async orgRole(orgId: number, userId: number): Promise<'owner' | 'member' | null> {
    const row = await this.db.selectFrom('org_members').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
    return row?.role ?? null;
  }

  async createRepo(ownerName: string, name: string, visibility: Visibility = 'public'): Promise<Repository> {
    checkRepoName(name);
    checkVisibility(visibility);
    const owner = await this.requireOwner(ownerName);
    try {
      return await this.db
        .insertInto('repositories')
        .values({ owner_id: owner.id, name, lower_name: name.toLowerCase(), visibility, created_at: nowIso() })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`repository ${owner.name}/${name} already exists`);
      throw e;
    }
  }

  async findRepo(ownerName: string, name: string): Promise<(Repository & { owner_name: string }) | undefined> {
    return this.db
      .selectFrom('repositories')
      .innerJoin('owners', 'owners.id', 'repositories.owner_id')
      .selectAll('repositories')
      .select('owners.name as owner_name')
      .where('owners.lower_name', '=', ownerName.toLowerCase())
      .where('repositories.lower_name', '=', name.toLowerCase())
      .executeTakeFirst();
  }

  async repoById(id: number): Promise<(Repository & { owner_name: string }) | undefined> {
    return this.db
      .selectFrom('repositories')
      .innerJoin('owners', 'owners.id', 'repositories.owner_id')
      .selectAll('repositories')
      .select('owners.name as owner_name')
      .where('repositories.id', '=', id)
      .executeTakeFirst();
  }

  async requireRepo(slug: string): Promise<Repository & { owner_name: string }> {
    const [owner, name, ...rest] = slug.split('/');
    if (!owner || !name || rest.length) throw invalid(`repository must be OWNER/NAME, got "${slug}"`);
    const repo = await this.findRepo(owner, name);
    if (!repo) throw notFound(`no repository ${slug}`);
    return repo;
  }

  async listRepos(ownerId: number): Promise<Repository[]> {
    return this.db.selectFrom('repositories').selectAll().where('owner_id', '=', ownerId).orderBy('lower_name').execute();
  }

  async setRepoVisibility(repoId: number, visibility: Visibility): Promise<void> {
    checkVisibility(visibility);
    await this.db.updateTable('repositories').set({ visibility }).where('id', '=', repoId).execute();
    // Packages inheriting from it change too: their derived documents must be rebuilt.
    await this.db.updateTable('packages').set((eb) => ({ revision: eb('revision', '+', 1) })).where('repository_id', '=', repoId).execute();
  }

  async grantRepo(slug: string, userName: string, role: Role): Promise<void> {
    checkRole(role);
    const repo = await this.requireRepo(slug);
    const user = await this.requireUser(userName);
    await this.db
      .insertInto('repo_collaborators')
      .values({ repository_id: repo.id, user_id: user.id, role })
      .onConflict((oc) => oc.columns(['repository_id', 'user_id']).doUpdateSet({ role }))
      .execute();
  }

  async revokeRepo(slug: string, userName: string): Promise<void> {
    const repo = await this.requireRepo(slug);
    const user = await this.requireUser(userName);
    await this.db.deleteFrom('repo_collaborators').where('repository_id', '=', repo.id).where('user_id', '=', user.id).execute();
  }

  async repoCollaboratorRole(repoId: number, userId: number): Promise<Role | null> {
    const row = await this.db.selectFrom('repo_collaborators').select('role').where('repository_id', '=', repoId).where('user_id', '=', userId).executeTakeFirst();
    return row?.role ?? null;
  }

  async listRepoCollaborators(repoId: number): Promise<{ id: number; name: string; role: Role }[]> {
    return this.db
      .selectFrom('repo_collaborators')
      .innerJoin('owners', 'owners.id', 'repo_collaborators.user_id')
      .select(['owners.id', 'owners.name', 'repo_collaborators.role'])
      .where('repository_id', '=', repoId)
      .execute();
  }

  /**
   * The Wharf repository a package's source URL names, when it exists under the same owner
   * (matched by the URL's last two path segments; every format links by this rule).
   */
  async repoForSourceUrl(ownerId: number, url: string | undefined | null): Promise<Repository | undefined> {
    const slug = repoSlugFromUrl(url);
    if (!slug) return undefined;
    const owner = await this.ownerById(ownerId);
    if (!owner || owner.lower_name !== slug.owner.toLowerCase()) return undefined;
    return this.db.selectFrom('repositories').selectAll().where('owner_id', '=', ownerId).where('lower_name', '=', slug.name.toLowerCase()).executeTakeFirst();
  }
}
