// Package settings shared by the CLI, the REST API and the web UI: visibility, link, inheritance, grants.
// Callers authorize first (the CLI is trusted: it holds the database); this file only validates and applies.
import type { Role, Visibility } from '../db/tables.ts';
import type { Actor } from './auth/actor.ts';
import { systemActor } from './audit/audit.ts';
import type { Core } from './core.ts';
import { invalid, notFound } from './errors.ts';
import type { PackageRow } from './model/packages.ts';

export function packageSettings(core: Core) {
  /** A grantee is a user name or an OWNER/REPO slug. */
  async function grantee(who: string): Promise<{ userId: number } | { repositoryId: number }> {
    if (who.includes('/')) return { repositoryId: (await core.identity.requireRepo(who)).id };
    return { userId: (await core.identity.requireUser(who)).id };
  }
  return {
    async require(owner: string, type: string, name: string): Promise<PackageRow> {
      const pkg = await core.packages.find(owner, type, name);
      if (!pkg) throw notFound(`no ${type} package ${owner}/${name}`);
      return pkg;
    },
    /** Applies settings; a repository must belong to the package's owner. */
    async update(pkg: PackageRow, s: { visibility?: Visibility; repository?: string | null; inheritAccess?: boolean }, actor: Actor | null) {
      let repositoryId: number | null | undefined;
      if (s.repository !== undefined) {
        if (s.repository === null) repositoryId = null;
        else {
          const repo = await core.identity.requireRepo(s.repository);
          if (repo.owner_id !== pkg.owner_id) throw invalid('a package can only be linked to a repository of its own owner');
          repositoryId = repo.id;
        }
      }
      await core.publisher.updateSettings(pkg.id, { visibility: s.visibility, repositoryId, inheritAccess: s.inheritAccess }, actor ?? systemActor);
    },
    async grant(pkg: PackageRow, who: string, role: Role, actor: Actor | null = null) {
      await core.publisher.grant(pkg.id, await grantee(who), role, actor ?? systemActor);
    },
    async revoke(pkg: PackageRow, who: string, actor: Actor | null = null) {
      await core.publisher.revoke(pkg.id, await grantee(who), actor ?? systemActor);
    },
  };
}
