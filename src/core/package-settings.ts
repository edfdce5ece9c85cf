// Package settings shared by the CLI, the REST API and the web UI: visibility, link, inheritance, grants.
// The publisher's verbs decide who may (the CLI acts as systemActor); this file resolves names and validates.
import type { Role, Visibility } from '../db/tables.ts';
import type { Actor } from './auth/actor.ts';
import type { Core } from './core.ts';
import { invalid, notFound } from './errors.ts';
import type { PackageRow } from './model/packages.ts';

export function packageSettings(core: Core) {
  /** A repository the actor may see: one they cannot is missing to them, as everywhere (its name is not confirmed). */
  async function visibleRepo(slug: string, actor: Actor, grantedOn?: number) {
    const repo = await core.identity.requireRepo(slug);
    if (await core.authz.canReadRepo(actor, repo)) return repo;
    // A grant the package already holds names the repository in its access list: it can be revoked.
    if (grantedOn !== undefined && (await core.db.selectFrom('package_access').select('package_id').where('package_id', '=', grantedOn).where('repository_id', '=', repo.id).executeTakeFirst())) return repo;
    throw notFound(`no repository ${slug}`);
  }
  /** A grantee is a user name or an OWNER/REPO slug (`revoking`: the package whose grant goes). */
  async function grantee(who: string, actor: Actor, revoking?: number): Promise<{ userId: number } | { repositoryId: number }> {
    if (who.includes('/')) return { repositoryId: (await visibleRepo(who, actor, revoking)).id };
    return { userId: (await core.identity.requireUser(who)).id };
  }
  return {
    async require(owner: string, type: string, name: string): Promise<PackageRow> {
      const pkg = await core.packages.find(owner, type, name);
      if (!pkg) throw notFound(`no ${type} package ${owner}/${name}`);
      return pkg;
    },
    /** Applies settings; a repository must belong to the package's owner. */
    async update(pkg: PackageRow, s: { visibility?: Visibility; repository?: string | null; inheritAccess?: boolean }, actor: Actor) {
      let repositoryId: number | null | undefined;
      if (s.repository !== undefined) {
        if (s.repository === null) repositoryId = null;
        else {
          const repo = await visibleRepo(s.repository, actor);
          if (repo.owner_id !== pkg.owner_id) throw invalid('a package can only be linked to a repository of its own owner');
          repositoryId = repo.id;
        }
      }
      await core.publisher.updateSettings(pkg.id, { visibility: s.visibility, repositoryId, inheritAccess: s.inheritAccess }, actor);
    },
    async grant(pkg: PackageRow, who: string, role: Role, actor: Actor) {
      await core.publisher.grant(pkg.id, await grantee(who, actor), role, actor);
    },
    async revoke(pkg: PackageRow, who: string, actor: Actor) {
      await core.publisher.revoke(pkg.id, await grantee(who, actor, pkg.id), actor);
    },
  };
}
