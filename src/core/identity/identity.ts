// Users, organizations, repositories and their memberships: the owners packages belong to.
import type { Db } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/database.ts';
import type { Owner, Repository, Role, Visibility } from '../../db/tables.ts';
import type { Actor } from '../auth/actor.ts';
import type { Authorizer } from '../auth/authorize.ts';
import { AuditLog } from '../audit/audit.ts';
import { systemActor } from '../auth/actor.ts';
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

/**
 * The verbs that change who may do what (orgs, memberships, repositories, collaborators) take the acting Actor
 * and ask `authz.manage` first: a route or a page cannot forget to. The CLI acts as `systemActor`.
 */
export class Identity {
  constructor(
    private readonly db: Db,
    private readonly authz: Authorizer,
    private readonly audit: AuditLog = new AuditLog(db),
    private readonly options: { signup: 'open' | 'closed' } = { signup: 'closed' },
  ) {}

  /** The database these verbs write to (for records outside a change, such as a failed sign-in). */
  get database(): Db {
    return this.db;
  }

  /**
   * Creates a user; the name is unique across users and orgs, case-insensitively. `by`: a site administrator (or
   * systemActor, the CLI), or — when sign-up is open (WHARF_SIGNUP=open) — anyone signed out, for a plain user.
   */
  async createUser(by: Actor, input: { name: string; email?: string | null; password?: string | null; isAdmin?: boolean }): Promise<Owner> {
    if (!(by.kind === 'anonymous' && this.options.signup === 'open' && !input.isAdmin)) await this.authz.manage(by, { what: 'site' });
    checkOwnerName(input.name);
    if (input.email != null && !/^[^\s@]+@[^\s@]+$/.test(input.email)) throw invalid(`invalid email "${input.email}"`);
    const password_hash = input.password ? await hashPassword(input.password) : null;
    return this.db.transaction().execute(async (trx) => {
      const user = await new Identity(trx as unknown as Db, this.authz).insertOwner({ kind: 'user', name: input.name, email: input.email ?? null, password_hash, is_admin: input.isAdmin ? 1 : 0 });
      await this.audit.record(trx as unknown as Db, { action: 'user.create', actor: by, ownerId: user.id, userId: user.id, target: user.name, details: { site_admin: !!input.isAdmin, sign_up: by.kind === 'anonymous' } });
      return user;
    });
  }

  /** Makes a user a site administrator or not. Nobody takes their own rights away (the site keeps an administrator). */
  async setSiteAdmin(by: Actor, userName: string, admin: boolean): Promise<Owner> {
    await this.authz.manage(by, { what: 'site' });
    const user = await this.requireUser(userName);
    if (!admin && by.kind === 'user' && by.user.id === user.id) throw invalid('you cannot remove your own site administrator rights');
    if ((user.is_admin === 1) === admin) return user;
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('owners').set({ is_admin: admin ? 1 : 0 }).where('id', '=', user.id).execute();
      await this.audit.record(trx as unknown as Db, { action: 'user.site_admin', actor: by, ownerId: user.id, userId: user.id, target: user.name, details: { site_admin: admin } });
    });
    return (await this.ownerById(user.id))!;
  }

  /** Creates an organization owned by `ownerUser`. */
  async createOrg(actor: Actor, name: string, ownerUser: string): Promise<Owner> {
    checkOwnerName(name);
    const owner = await this.requireUser(ownerUser);
    await this.authz.manage(actor, { what: 'org-create', adminId: owner.id });
    return this.db.transaction().execute(async (trx) => {
      const org = await new Identity(trx as unknown as Db, this.authz).insertOwner({ kind: 'org', name, email: null, password_hash: null, is_admin: 0 });
      await trx.insertInto('org_members').values({ org_id: org.id, user_id: owner.id, role: 'owner' }).execute();
      await this.audit.record(trx as unknown as Db, { action: 'org.create', actor, ownerId: org.id, userId: owner.id, target: org.name });
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
  async setPassword(userName: string, password: string, actor: Actor = systemActor): Promise<void> {
    const user = await this.requireUser(userName);
    await this.authz.manage(actor, actor.kind === 'user' && actor.user.id === user.id ? { what: 'owner', owner: user } : { what: 'site' });
    const password_hash = await hashPassword(password);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('owners').set({ password_hash }).where('id', '=', user.id).execute();
      await trx.deleteFrom('sessions').where('user_id', '=', user.id).execute();
      await this.audit.record(trx as unknown as Db, { action: 'user.password_changed', actor, ownerId: user.id, userId: user.id, target: user.name });
    });
  }

  /**
   * Suspends a user: their password, tokens and sessions stop working at once, on every node; sessions are ended.
   * Their packages, tokens and memberships stay, for when they are unsuspended. `by`: a site administrator
   * (the site_admin scope) or systemActor (the `wharf` CLI, run by whoever holds the database).
   */
  async suspendUser(by: Actor, userName: string): Promise<Owner> {
    await this.authz.manage(by, { what: 'site' });
    const user = await this.requireUser(userName);
    if (by.kind === 'user' && by.user.id === user.id) throw invalid('you cannot suspend yourself');
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('owners').set({ suspended_at: nowIso() }).where('id', '=', user.id).where('suspended_at', 'is', null).execute();
      await trx.deleteFrom('sessions').where('user_id', '=', user.id).execute();
      await this.audit.record(trx as unknown as Db, { action: 'user.suspend', actor: by, ownerId: user.id, userId: user.id, target: user.name });
    });
    await this.endJobTokensOf(user.id);
    return (await this.ownerById(user.id))!;
  }

  /** Lifts a suspension: the user's password and unexpired tokens work again (sessions were ended for good). */
  async unsuspendUser(by: Actor, userName: string): Promise<Owner> {
    await this.authz.manage(by, { what: 'site' });
    const user = await this.requireUser(userName);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('owners').set({ suspended_at: null }).where('id', '=', user.id).execute();
      await this.audit.record(trx as unknown as Db, { action: 'user.unsuspend', actor: by, ownerId: user.id, userId: user.id, target: user.name });
    });
    return (await this.ownerById(user.id))!;
  }

  /**
   * Deletes a user with their tokens, sessions, memberships, repositories and hooks (foreign keys cascade).
   * Refused while they own packages or are the only owner of an organization, unless `force`: then their packages
   * are deleted with them (their blobs are collected by gc) and such organizations are left to site administrators.
   */
  async deleteUser(by: Actor, userName: string, opts: { force?: boolean } = {}): Promise<{ packages: number }> {
    await this.authz.manage(by, { what: 'site' });
    const user = await this.requireUser(userName);
    if (by.kind === 'user' && by.user.id === user.id) throw invalid('you cannot delete yourself');
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
      await this.audit.record(trx as unknown as Db, { action: 'user.delete', actor: by, ownerId: user.id, owner: { name: user.name, kind: 'user' }, userId: user.id, userName: user.name, target: user.name, details: { packages } });
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
  async addOrgMember(actor: Actor, orgName: string, userName: string, role: 'owner' | 'member' = 'member'): Promise<void> {
    if (role !== 'owner' && role !== 'member') throw invalid('org role must be owner or member');
    const org = await this.requireOrg(orgName);
    await this.authz.manage(actor, { what: 'owner', owner: org });
    const user = await this.requireUser(userName);
    if (role === 'member') await this.keepsAnOwner(org.id, user.id);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const old = await trx.selectFrom('org_members').select('role').where('org_id', '=', org.id).where('user_id', '=', user.id).executeTakeFirst();
      if (old?.role === role) return;
      await trx.insertInto('org_members').values({ org_id: org.id, user_id: user.id, role }).onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role })).execute();
      await this.audit.record(trx, { action: old ? 'org.update_member' : 'org.add_member', actor, ownerId: org.id, userId: user.id, target: user.name, details: { role, ...(old ? { previous_role: old.role } : {}) } });
    });
    await this.endJobTokensOf(user.id);
  }

  /**
   * After a user lost rights (suspended, removed or demoted in an org or repository): the job tokens they minted
   * that they could no longer mint end now, for good (the token lookup also refuses them at once; this makes it
   * stick when the rights come back).
   */
  private async endJobTokensOf(userId: number): Promise<void> {
    const rows = await this.db.selectFrom('tokens').innerJoin('repositories', 'repositories.id', 'tokens.repository_id').innerJoin('owners', 'owners.id', 'tokens.user_id')
      .select(['tokens.id', 'repositories.id as repo_id', 'repositories.owner_id', 'repositories.visibility', 'owners.is_admin', 'owners.suspended_at'])
      .where('tokens.kind', '=', 'job').where('tokens.user_id', '=', userId).where('tokens.revoked_at', 'is', null).execute();
    for (const r of rows) {
      const may = await this.authz.minterStillMay({ id: userId, isAdmin: r.is_admin === 1, suspended: !!r.suspended_at }, { id: r.repo_id, owner_id: r.owner_id, visibility: r.visibility });
      if (!may) await this.db.updateTable('tokens').set({ revoked_at: nowIso() }).where('id', '=', r.id).where('revoked_at', 'is', null).execute();
    }
  }

  async removeOrgMember(actor: Actor, orgName: string, userName: string): Promise<void> {
    const org = await this.requireOrg(orgName);
    await this.authz.manage(actor, { what: 'owner', owner: org });
    const user = await this.requireUser(userName);
    await this.keepsAnOwner(org.id, user.id);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const old = await trx.deleteFrom('org_members').where('org_id', '=', org.id).where('user_id', '=', user.id).returning('role').executeTakeFirst();
      if (!old) return;
      // Who leaves the organization leaves its packages: the admin a member got on what they published there (and
      // any grant to them on the org's packages) goes too, as on GitHub. Their own packages stay theirs.
      // Grants to their own repositories go too (a job of theirs would otherwise keep what they lost).
      const orgPackages = trx.selectFrom('packages').select('id').where('owner_id', '=', org.id);
      const grants = await trx.deleteFrom('package_access').where('package_id', 'in', orgPackages)
        .where((eb) => eb.or([eb('user_id', '=', user.id), eb('repository_id', 'in', trx.selectFrom('repositories').select('id').where('owner_id', '=', user.id))]))
        .executeTakeFirst();
      await this.audit.record(trx, { action: 'org.remove_member', actor, ownerId: org.id, userId: user.id, target: user.name, details: { previous_role: old.role, revoked_package_grants: Number(grants.numDeletedRows) } });
    });
    await this.endJobTokensOf(user.id);
  }

  /** An org always keeps an owner: nobody can lock everyone out by demoting or removing the last one. */
  private async keepsAnOwner(orgId: number, userId: number): Promise<void> {
    const owners = await this.db.selectFrom('org_members').select('user_id').where('org_id', '=', orgId).where('role', '=', 'owner').execute();
    if (owners.length === 1 && owners[0].user_id === userId) throw invalid('an organization needs at least one owner: make someone else an owner first');
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

  /** The organizations a user belongs to, with their role in each, by name. */
  async orgsOf(userId: number): Promise<(Owner & { role: 'owner' | 'member' })[]> {
    return this.db
      .selectFrom('org_members')
      .innerJoin('owners', 'owners.id', 'org_members.org_id')
      .selectAll('owners')
      .select('org_members.role')
      .where('org_members.user_id', '=', userId)
      .orderBy('owners.lower_name')
      .execute();
  }

  /** The user's role in an org, or null. */
  async orgRole(orgId: number, userId: number): Promise<'owner' | 'member' | null> {
    const row = await this.db.selectFrom('org_members').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
    return row?.role ?? null;
  }

  async createRepo(actor: Actor, ownerName: string, name: string, visibility: Visibility = 'public'): Promise<Repository> {
    checkRepoName(name);
    checkVisibility(visibility);
    const owner = await this.requireOwner(ownerName);
    await this.authz.manage(actor, { what: 'repo-create', owner });
    try {
      return await this.db.transaction().execute(async (t) => {
        const trx = t as unknown as Db;
        const repo = await trx.insertInto('repositories').values({ owner_id: owner.id, name, lower_name: name.toLowerCase(), visibility, created_at: nowIso() }).returningAll().executeTakeFirstOrThrow();
        await this.audit.record(trx, { action: 'repo.create', actor, ownerId: owner.id, repositoryId: repo.id, repositoryName: `${owner.name}/${repo.name}`, details: { visibility } });
        return repo;
      });
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

  async setRepoVisibility(actor: Actor, repoId: number, visibility: Visibility): Promise<void> {
    checkVisibility(visibility);
    const repo = await this.repoById(repoId);
    if (!repo) throw notFound('no such repository');
    await this.authz.manage(actor, { what: 'repo', repo });
    if (repo.visibility === visibility) return;
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      await trx.updateTable('repositories').set({ visibility }).where('id', '=', repoId).execute();
      // Packages inheriting from it change too: their derived documents must be rebuilt.
      await trx.updateTable('packages').set((eb) => ({ revision: eb('revision', '+', 1) })).where('repository_id', '=', repoId).execute();
      await this.audit.record(trx, { action: 'repo.access', actor, ownerId: repo.owner_id, repositoryId: repo.id, repositoryName: `${repo.owner_name}/${repo.name}`, details: { previous_visibility: repo.visibility, visibility } });
    });
  }

  async grantRepo(actor: Actor, slug: string, userName: string, role: Role): Promise<void> {
    checkRole(role);
    const repo = await this.requireRepo(slug);
    await this.authz.manage(actor, { what: 'repo', repo });
    const user = await this.requireUser(userName);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const old = await trx.selectFrom('repo_collaborators').select('role').where('repository_id', '=', repo.id).where('user_id', '=', user.id).executeTakeFirst();
      if (old?.role === role) return;
      await trx.insertInto('repo_collaborators').values({ repository_id: repo.id, user_id: user.id, role }).onConflict((oc) => oc.columns(['repository_id', 'user_id']).doUpdateSet({ role })).execute();
      await this.audit.record(trx, { action: 'repo.add_member', actor, ownerId: repo.owner_id, repositoryId: repo.id, repositoryName: `${repo.owner_name}/${repo.name}`, userId: user.id, target: user.name, details: { permission: role, ...(old ? { previous_permission: old.role } : {}) } });
    });
    await this.endJobTokensOf(user.id);
  }

  async revokeRepo(actor: Actor, slug: string, userName: string): Promise<void> {
    const repo = await this.requireRepo(slug);
    await this.authz.manage(actor, { what: 'repo', repo });
    const user = await this.requireUser(userName);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const old = await trx.deleteFrom('repo_collaborators').where('repository_id', '=', repo.id).where('user_id', '=', user.id).returning('role').executeTakeFirst();
      if (old) await this.audit.record(trx, { action: 'repo.remove_member', actor, ownerId: repo.owner_id, repositoryId: repo.id, repositoryName: `${repo.owner_name}/${repo.name}`, userId: user.id, target: user.name, details: { previous_permission: old.role } });
    });
    await this.endJobTokensOf(user.id);
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
