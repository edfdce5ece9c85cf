// Users, organizations and repositories in GitHub's shapes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseDuration } from '../../core/auth/tokens.ts';
import type { Core } from '../../core/core.ts';
import { forbidden, invalid, notFound } from '../../core/errors.ts';
import { checkRole, checkVisibility } from '../../core/identity/identity.ts';
import type { Owner, Repository, Role } from '../../db/tables.ts';
import { baseUrlOf } from '../actor.ts';
import { bodyObject, idParam, ownerJson, packageJson, pageOf, repoJson, requireAdmin, requireUser, sendPage, str } from './common.ts';

type P = Record<string, string>;

/** GitHub's collaborator permissions mapped onto Wharf's roles. */
const PERMISSION: Record<string, Role> = { read: 'read', pull: 'read', triage: 'read', write: 'write', push: 'write', maintain: 'write', admin: 'admin' };

export async function identityRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const base = (req: FastifyRequest) => baseUrlOf(core, req);

  app.get('/user', async (req) => {
    const a = requireUser(req.actor);
    const u = await core.identity.requireUser(a.user.name);
    return { ...ownerJson(u, base(req)), email: u.email, created_at: u.created_at };
  });

  app.get('/users/:name', async (req) => ownerJson(await core.identity.requireUser((req.params as P).name), base(req)));
  app.get('/orgs/:name', async (req) => ownerJson(await core.identity.requireOrg((req.params as P).name), base(req)));

  app.get('/users', async (req, reply) => {
    await core.authz.manage(req.actor, { what: 'site' });
    const p = pageOf(req);
    const rows = await core.identity.listOwners('user', p.limit, p.offset);
    return sendPage(req, reply, core, rows.map((u) => ownerJson(u, base(req))), p);
  });

  app.post('/admin/users', async (req, reply) => {
    const b = bodyObject(req.body);
    const u = await core.identity.createUser(req.actor, {
      name: str(b.login, 'login'),
      email: typeof b.email === 'string' ? b.email : null,
      password: typeof b.password === 'string' ? b.password : null,
      isAdmin: b.admin === true,
    });
    return reply.code(201).send(ownerJson(u, base(req)));
  });

  // Site admins create orgs for anyone; a user may create an org they will own.
  app.post('/admin/organizations', async (req, reply) => {
    const a = requireUser(req.actor);
    const b = bodyObject(req.body);
    const admin = typeof b.admin === 'string' ? b.admin : a.user.name;
    const org = await core.identity.createOrg(req.actor, str(b.login, 'login'), admin);
    return reply.code(201).send(ownerJson(org, base(req)));
  });

  app.get('/orgs/:org/members', async (req) => {
    requireUser(req.actor);
    const org = await core.identity.requireOrg((req.params as P).org);
    if (!(await core.authz.canSeeMembers(req.actor, org))) throw notFound();
    return (await core.identity.listOrgMembers(org.id)).map((m) => ({ login: m.name, id: m.id, type: 'User', role: m.role === 'owner' ? 'admin' : 'member' }));
  });

  app.put('/orgs/:org/memberships/:user', async (req) => {
    const org = await core.identity.requireOrg((req.params as P).org);
    const role = bodyObject(req.body).role ?? 'member';
    if (role !== 'admin' && role !== 'member') throw invalid('role must be admin or member');
    await core.identity.addOrgMember(req.actor, org.name, (req.params as P).user, role === 'admin' ? 'owner' : 'member');
    return { state: 'active', role, organization: ownerJson(org, base(req)), user: { login: (req.params as P).user } };
  });

  app.delete('/orgs/:org/memberships/:user', async (req, reply) => {
    const org = await core.identity.requireOrg((req.params as P).org);
    await core.identity.removeOrgMember(req.actor, org.name, (req.params as P).user);
    return reply.code(204).send();
  });

  // ---- repositories ----
  const createRepo = async (req: FastifyRequest, owner: Owner) => {
    const b = bodyObject(req.body);
    const visibility = b.visibility !== undefined ? checkVisibility(str(b.visibility, 'visibility')) : b.private === true ? 'private' : 'public';
    const repo = await core.identity.createRepo(req.actor, owner.name, str(b.name, 'name'), visibility);
    return repoJson(repo, owner.name, owner.kind, base(req));
  };
  app.post('/user/repos', async (req, reply) => {
    const a = requireUser(req.actor);
    return reply.code(201).send(await createRepo(req, await core.identity.requireUser(a.user.name)));
  });
  app.post('/orgs/:org/repos', async (req, reply) => reply.code(201).send(await createRepo(req, await core.identity.requireOrg((req.params as P).org))));

  /** The repository, if the actor may see it (private ones 404 to others). */
  async function repoFor(req: FastifyRequest): Promise<{ repo: Repository & { owner_name: string }; owner: Owner }> {
    const p = req.params as P;
    const repo = await core.identity.findRepo(p.owner, p.repo);
    if (!repo) throw notFound();
    if (!(await core.authz.canReadRepo(req.actor, repo))) throw notFound();
    const owner = (await core.identity.ownerById(repo.owner_id))!;
    return { repo, owner };
  }
  async function repoAdmin(req: FastifyRequest) {
    const r = await repoFor(req);
    await core.authz.manage(req.actor, { what: 'repo', repo: r.repo });
    return r;
  }

  app.get('/repos/:owner/:repo', async (req) => {
    const { repo, owner } = await repoFor(req);
    return repoJson(repo, owner.name, owner.kind, base(req));
  });
  app.patch('/repos/:owner/:repo', async (req) => {
    const { repo, owner } = await repoAdmin(req);
    const b = bodyObject(req.body);
    if (b.visibility !== undefined) await core.identity.setRepoVisibility(req.actor, repo.id, checkVisibility(str(b.visibility, 'visibility')));
    else if (b.private !== undefined) await core.identity.setRepoVisibility(req.actor, repo.id, b.private ? 'private' : 'public');
    return repoJson((await core.identity.repoById(repo.id))!, owner.name, owner.kind, base(req));
  });
  const listRepos = async (req: FastifyRequest, owner: Owner) => {
    const out = [];
    for (const r of await core.identity.listRepos(owner.id)) {
      if (await core.authz.canReadRepo(req.actor, r)) out.push(repoJson(r, owner.name, owner.kind, base(req)));
    }
    return out;
  };
  app.get('/users/:name/repos', async (req) => listRepos(req, await core.identity.requireUser((req.params as P).name)));
  app.get('/orgs/:name/repos', async (req) => listRepos(req, await core.identity.requireOrg((req.params as P).name)));

  app.get('/repos/:owner/:repo/collaborators', async (req) => {
    const { repo } = await repoAdmin(req);
    return (await core.identity.listRepoCollaborators(repo.id)).map((c) => ({ login: c.name, id: c.id, role_name: c.role }));
  });
  app.put('/repos/:owner/:repo/collaborators/:user', async (req, reply) => {
    const { repo, owner } = await repoAdmin(req);
    const permission = String(bodyObject(req.body).permission ?? 'write');
    const role = PERMISSION[permission] ?? checkRole(permission);
    await core.identity.grantRepo(req.actor, `${owner.name}/${repo.name}`, (req.params as P).user, role);
    return reply.code(201).send({ repository: `${owner.name}/${repo.name}`, invitee: { login: (req.params as P).user }, permissions: role });
  });
  app.delete('/repos/:owner/:repo/collaborators/:user', async (req, reply) => {
    const { repo, owner } = await repoAdmin(req);
    await core.identity.revokeRepo(req.actor, `${owner.name}/${repo.name}`, (req.params as P).user);
    return reply.code(204).send();
  });

  // Packages linked to a repository (what its page lists).
  app.get('/repos/:owner/:repo/packages', async (req) => {
    const { repo } = await repoFor(req);
    const out = [];
    for (const pkg of await core.packages.listByRepository(repo.id)) {
      if (await core.authz.canRead(req.actor, pkg)) out.push(await packageJson(core, pkg, base(req)));
    }
    return out;
  });

  // A job token for CI (GITHUB_TOKEN): write on the repository is needed to mint one.
  app.post('/repos/:owner/:repo/job-tokens', async (req, reply) => {
    const { repo, owner } = await repoFor(req);
    const b = bodyObject(req.body);
    let ttlMs: number | undefined;
    try {
      ttlMs = b.ttl !== undefined ? parseDuration(str(b.ttl, 'ttl')) : undefined;
    } catch (e) {
      throw invalid((e as Error).message);
    }
    const { token, info } = await core.tokens.createJob(req.actor, `${owner.name}/${repo.name}`, { ttlMs });
    return reply.code(201).send({ token, id: info.id, expires_at: info.expires_at, repository: `${owner.name}/${repo.name}` });
  });

  // A repository's live job tokens, and revoking one: its admins (org owners included).
  app.get('/repos/:owner/:repo/job-tokens', async (req) => {
    const { repo, owner } = await repoFor(req);
    return (await core.tokens.listJobs(req.actor, `${owner.name}/${repo.name}`)).map((t) => ({ id: t.id, token_prefix: t.token_prefix, created_by: t.created_by, created_at: t.created_at, expires_at: t.expires_at, last_used_at: t.last_used_at }));
  });
  app.delete('/repos/:owner/:repo/job-tokens/:id', async (req, reply) => {
    const { repo } = await repoFor(req);
    await core.tokens.revoke(req.actor, idParam((req.params as P).id), undefined, repo.id);
    return reply.code(204).send();
  });
}
