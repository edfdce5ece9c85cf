// What each route needs before it runs, one helper per access kind: `pull` (read a repository), `push` (write
// to it, creating it on the first push), `delete`. A route declares its kind in its resource's table and the
// dispatcher calls the helper before the handler, so no handler can skip it. These helpers only ask
// `core.authz`, narrow the answer by the registry token's grants, and translate it into the spec's errors:
// who may not see a private repository gets NAME_UNKNOWN (anonymous: 401, so the client fetches a token).
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import { jobElsewhere, type Action } from '../../core/auth/authorize.ts';
import type { Core } from '../../core/core.ts';
import { WharfError, unauthorized } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { ociError } from './errors.ts';
import { parseOciName, type OciName } from './names.ts';

/** The package type of an OCI repository. */
export const TYPE = 'container';

/** The access a route needs, in the Docker token scope's words. */
export type OciAccess = 'pull' | 'push' | 'delete';

/** Which registry actions an API action needs (the Docker token scope vocabulary). */
const REGISTRY_ACTION: Record<Action, string> = { read: 'pull', write: 'push', delete: 'delete', admin: 'push' };

export interface Access {
  /** The repository's package, if the actor may pull from it. */
  pull(req: FastifyRequest, n: OciName): Promise<PackageRow>;
  /**
   * The repository's package for a push; with `create`, a repository that does not exist yet is created
   * (private) if the actor may create it, else it is NAME_UNKNOWN.
   */
  push(req: FastifyRequest, n: OciName, create?: boolean): Promise<PackageRow>;
  /** The repository's package, if the actor may delete from it. */
  delete(req: FastifyRequest, n: OciName): Promise<PackageRow>;
  /** Asks again whether the actor may push to `pkg` (its settings may have changed during the request). */
  recheckPush(actor: Actor, pkg: PackageRow, n: OciName): Promise<void>;
  /** The package of repository `fullName` if the actor may pull from it (a mount source), else undefined. */
  pullSource(actor: Actor, fullName: string): Promise<PackageRow | undefined>;
}

/** The access helpers over `core.authz`. */
export function accessHelpers(core: Core): Access {
  /** The repository's package, if the actor may `action` on it. NAME_UNKNOWN for what the actor may not see. */
  async function repository(req: FastifyRequest, n: OciName, action: Action): Promise<PackageRow> {
    req.ociScope = { name: n.full, actions: action === 'read' ? 'pull' : action === 'delete' ? 'delete' : 'pull,push' };
    const pkg = await core.packages.find(n.owner, TYPE, n.name);
    const unknown = () => (req.actor.kind === 'anonymous' ? unauthorized() : ociError('NAME_UNKNOWN', `repository ${n.full} not found`));
    if (!pkg) throw unknown();
    try {
      await core.authz.authorize(req.actor, action, pkg);
    } catch (e) {
      if (e instanceof WharfError && e.kind === 'NotFound') throw unknown();
      if (e instanceof WharfError && e.kind === 'Forbidden') throw ociError('DENIED', e.message);
      throw e;
    }
    // core.authz also narrows a registry token to the actions it was issued for: a 401 (Unauthorized, passed
    // through) sends the client for a wider token.
    return pkg;
  }

  async function recheckPush(actor: Actor, pkg: PackageRow, n: OciName): Promise<void> {
    try {
      // A repository the actor may not see is refused as a missing one they may not create (authorizePublish).
      await core.authz.authorizePublish(actor, { id: pkg.owner_id, kind: pkg.owner_kind, name: pkg.owner_name }, pkg, null, { type: TYPE, name: n.name });
    } catch (e) {
      if (e instanceof WharfError && e.kind === 'Forbidden') throw ociError('DENIED', e.message);
      if (e instanceof WharfError && e.kind === 'NotFound') throw ociError('NAME_UNKNOWN', `repository ${n.full} not found`);
      throw e;
    }
  }

  async function push(req: FastifyRequest, n: OciName, create = false): Promise<PackageRow> {
    req.ociScope = { name: n.full, actions: 'pull,push' };
    const existing = await core.packages.find(n.owner, TYPE, n.name);
    if (existing) {
      await recheckPush(req.actor, existing, n);
      return existing;
    }
    if (!create) throw req.actor.kind === 'anonymous' ? unauthorized() : ociError('NAME_UNKNOWN', `repository ${n.full} not found`);
    const owner = await core.identity.findOwner(n.owner);
    if (!owner) throw req.actor.kind === 'anonymous' ? unauthorized() : ociError('NAME_UNKNOWN', `no user or organization named "${n.owner}"`);
    const actor = req.actor;
    if (actor.kind === 'job') {
      // Whether the image will link to the job's repository is known at its manifest; the owner must match now.
      if (owner.id !== actor.repositoryOwnerId) throw ociError('DENIED', jobElsewhere(actor.repositoryName, owner.name).message);
    } else {
      try {
        await core.authz.authorizeCreate(actor, owner, null, { type: TYPE, name: n.name });
      } catch (e) {
        if (e instanceof WharfError && e.kind === 'Forbidden') throw ociError('DENIED', e.message);
        throw e;
      }
    }
    // A first upload that would take the owner over its quota is refused before the repository appears (the
    // upload route checks the declared body again against the repository it then holds).
    const declared = Number(req.headers['content-length'] ?? 0);
    await core.publisher.checkQuota(owner.id, { packages: 1, ...(declared > 0 ? { bytes: declared } : {}) });
    // A job's new image is tied to its repository (so the job may keep pushing to it) but does not inherit the
    // repository's visibility until its manifest confirms the link: blobs of a refused push stay private.
    await core.publisher.ensurePackage({ ownerId: owner.id, type: TYPE, name: n.name, repositoryId: actor.kind === 'job' ? actor.repositoryId : null, inheritAccess: actor.kind !== 'job', actor });
    return (await core.packages.find(n.owner, TYPE, n.name))!;
  }

  async function pullSource(actor: Actor, fullName: string): Promise<PackageRow | undefined> {
    let from: OciName;
    try {
      from = parseOciName(fullName);
    } catch {
      return undefined;
    }
    const pkg = await core.packages.find(from.owner, TYPE, from.name);
    // canRead honours a registry token's grants too (pull on the source repository).
    if (!pkg || !(await core.authz.canRead(actor, pkg))) return undefined;
    return pkg;
  }

  return {
    pull: (req, n) => repository(req, n, 'read'),
    push,
    delete: (req, n) => repository(req, n, 'delete'),
    recheckPush,
    pullSource,
  };
}
