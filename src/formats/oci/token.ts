// Docker token authentication: GET /v2/token?service=…&scope=repository:NAME:ACTIONS. The client may send Basic
// credentials (a user with a personal access token or password, or a job token) or none. The token grants
// only the requested actions the actor is allowed, and lives five minutes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorName, type Actor } from '../../core/auth/actor.ts';
import type { Action } from '../../core/auth/authorize.ts';
import type { RegistryClaims, RepositoryAccess } from '../../core/auth/registry-tokens.ts';
import type { Core } from '../../core/core.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { parseOciName } from './names.ts';
import { registryServiceOf } from '../../http/actor.ts';

const TTL_SECONDS = 300;
const ACTIONS: Record<string, Action> = { pull: 'read', push: 'write', delete: 'delete' };

export async function tokenEndpoint(app: FastifyInstance, core: Core): Promise<void> {
  /** May the actor do `action` (pull, push, delete) on the repository (`pkg` undefined: it does not exist yet)? */
  async function may(actor: Actor, owner: string, name: string, pkg: PackageRow | undefined, action: string): Promise<boolean> {
    try {
      if (pkg) {
        await core.authz.authorize(actor, ACTIONS[action], pkg);
        return true;
      }
      // A repository a container proxy has not fetched yet: pulled as the package it will be (its proxy's).
      const proxy = action === 'pull' ? await core.proxies.byName(owner) : undefined;
      if (proxy?.format === 'container') {
        await core.authz.authorize(actor, 'read', { id: 0, owner_id: proxy.ownerId, visibility: proxy.visibility, repository_id: null, inherit_access: 0, type: 'container', name });
        return true;
      }
      // A repository that does not exist yet: pushing creates it under its owner.
      if (action !== 'push') return false;
      const o = await core.identity.findOwner(owner);
      if (!o) return false;
      if (actor.kind === 'job') return o.id === actor.repositoryOwnerId;
      // Named, so a fine-grained token is granted push only on an image its selection covers.
      await core.authz.authorizeCreate(actor, o, null, { type: 'container', name });
      return true;
    } catch {
      return false; // not allowed: left out of the token, as the Docker token spec says
    }
  }

  /** The subset of `wanted` actions the actor may do on the repository. */
  async function allowed(actor: Actor, name: string, wanted: string[]): Promise<string[]> {
    let n;
    try {
      n = parseOciName(name);
    } catch {
      return [];
    }
    const pkg = await core.packages.find(n.owner, 'container', n.name);
    const out: string[] = [];
    for (const a of wanted.includes('*') ? Object.keys(ACTIONS) : wanted.filter((w) => w in ACTIONS)) {
      if (await may(actor, n.owner, n.name, pkg, a)) out.push(a);
    }
    // Who may create a repository may also look into it while pushing (blob HEADs before uploads).
    if (!pkg && out.includes('push')) out.unshift('pull');
    return out;
  }

  const issue = async (req: FastifyRequest) => {
    const q = req.query as Record<string, string | string[] | undefined>;
    const scopes = ([] as string[]).concat(q.scope ?? []).flatMap((s) => s.split(' ')).filter(Boolean);
    const actor = req.actor;
    const access: RepositoryAccess[] = [];
    for (const scope of scopes) {
      const m = /^repository(?:\([^)]*\))?:(.+):([a-z*,]*)$/.exec(scope);
      if (!m) continue;
      const actions = await allowed(actor, m[1], m[2].split(',').filter(Boolean));
      const existing = access.find((a) => a.name === m[1]);
      if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
      else access.push({ type: 'repository', name: m[1], actions });
    }
    // A job's or trusted publisher's registry token names the token it came from: it is valid while that one is.
    const who: RegistryClaims['wharf'] =
      actor.kind === 'user' ? { kind: 'user', uid: actor.user.id, tid: actor.tokenId }
      : actor.kind === 'job' || actor.kind === 'publisher' ? { kind: actor.kind, tid: actor.tokenId }
      : { kind: 'anonymous' };
    // Tokens are issued for this registry only, whatever `service` the client names: their audience is this
    // registry's service name, and a token with any other audience is refused here.
    const service = registryServiceOf(core, req);
    const subject = actorName(actor) ?? 'anonymous';
    const token = await core.registryTokens.issue({ wharf: who, access }, { service, subject, ttlSeconds: TTL_SECONDS });
    return { token, access_token: token, expires_in: TTL_SECONDS, issued_at: new Date().toISOString() };
  };

  app.get('/token', issue);
  // Some clients (podman login, OAuth2-capable clients) POST a form; credentials still arrive as Basic.
  app.post('/token', issue);
}
