// Trusted publishing (OpenID Connect): trust policies, and the exchange of a CI job's ID token for a Wharf token.
// A policy says "accept ID tokens from ISSUER whose claims match these patterns" and sits on a package, on a
// repository (the packages linked to it) or on an owner (naming the package type and name it may create). The
// exchange verifies the ID token (id-tokens.ts), records its jti so it is never accepted twice (on any node: the
// primary key of oidc_jtis), and mints a `whs_` token living 15 minutes whose actor is a `publisher` limited to
// 'write' on what the matching policies name: it publishes, never deletes, never manages.
import type { Db } from '../../db/database.ts';
import { isUniqueViolation } from '../../db/database.ts';
import type { TrustedPublishersTable } from '../../db/tables.ts';
import type { Selectable } from 'kysely';
import { AuditLog } from '../audit/audit.ts';
import { nowIso } from '../clock.ts';
import { conflict, forbidden, invalid, notFound, unauthorized } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import type { AccessLimit, Actor, LimitResource } from './actor.ts';
import type { Authorizer } from './authorize.ts';
import { GITHUB_ISSUER, GITLAB_ISSUER, IdTokenVerifier, normalizeIssuer } from './id-tokens.ts';
import { hashToken, mintToken, type Scope } from './tokens.ts';

export type Provider = 'github' | 'gitlab' | 'generic';
type PolicyRow = Selectable<TrustedPublishersTable>;

/** The version property holding what a trusted publisher's ID token said (JSON of PublishedVia). */
export const PUBLISHED_VIA = 'published_via';

/** How long a trusted publishing token lives. */
export const PUBLISHER_TOKEN_TTL_MS = 15 * 60_000;
const PUBLISHER_SCOPES: Scope[] = ['read:packages', 'write:packages'];

/**
 * The claims a policy may constrain, per provider (GitHub's and GitLab's own names), and the claims of which at
 * least one must be constrained without a leading wildcard: every repository on github.com gets ID tokens from the
 * same issuer, so a policy that does not pin the repository (or the subject) would trust all of them.
 */
export const PROVIDER_CLAIMS: Record<Provider, { claims: readonly string[]; binding: readonly string[] }> = {
  github: { claims: ['repository', 'repository_owner', 'repository_id', 'repository_owner_id', 'workflow_ref', 'job_workflow_ref', 'environment', 'ref', 'sub'], binding: ['repository', 'repository_id', 'sub'] },
  gitlab: { claims: ['project_path', 'namespace_path', 'project_id', 'namespace_id', 'ci_config_ref_uri', 'environment', 'ref', 'ref_type', 'sub'], binding: ['project_path', 'project_id', 'sub'] },
  generic: { claims: [], binding: ['sub'] },
};

/** Claims compared without regard to case: GitHub and GitLab treat these names case-insensitively. */
const CASELESS = new Set(['repository', 'repository_owner', 'project_path', 'namespace_path']);

/** What is kept of an ID token: on the token's actor, on each version it publishes, and in the audit log. */
const KEPT_CLAIMS = [
  'iss', 'sub', 'repository', 'repository_owner', 'repository_id', 'workflow_ref', 'job_workflow_ref', 'ref', 'sha', 'run_id', 'run_attempt',
  'environment', 'event_name', 'actor', 'project_path', 'namespace_path', 'project_id', 'ci_config_ref_uri', 'ci_config_sha', 'pipeline_id', 'job_id', 'user_login',
] as const;

export interface PolicyInfo {
  id: number;
  provider: Provider;
  issuer: string;
  jwks_url: string | null;
  claims: Record<string, string>;
  /** Where it sits: `package` (package_type/package_name name it), `repository` (`OWNER/REPO`) or `owner` (with the package it may create). */
  scope: 'package' | 'repository' | 'owner';
  owner: string;
  repository: string | null;
  package_type: string | null;
  package_name: string | null;
  created_at: string;
}

/** Where a policy sits, as the REST API, the CLI and the web UI name it. */
export type PolicyTarget =
  | { kind: 'package'; owner: string; type: string; name: string }
  | { kind: 'repo'; owner: string; repo: string }
  /** An owner, for a package not created yet (type and name say which); listing needs neither. */
  | { kind: 'owner'; owner: string; type?: string; name?: string };

export interface NewPolicy {
  provider?: string;
  issuer?: string;
  jwks_url?: string | null;
  claims: Record<string, unknown>;
}

/** What the ID token said that a trusted publishing token keeps, and where to see the run. */
export interface PublishedVia {
  provider: Provider;
  issuer: string;
  claims: Record<string, string>;
  run_url: string | null;
}

interface PublisherJson {
  name: string;
  provider: Provider;
  policies: number[];
  claims: Record<string, string>;
  limit: AccessLimit;
}

/** Does `value` match `pattern` (`*`: any run of characters, everything else literal)? */
export function claimMatches(pattern: string, value: string, caseless = false): boolean {
  const p = caseless ? pattern.toLowerCase() : pattern;
  const v = caseless ? value.toLowerCase() : value;
  const parts = p.split('*');
  if (parts.length === 1) return p === v;
  if (!v.startsWith(parts[0]) || !v.endsWith(parts[parts.length - 1])) return false;
  let at = parts[0].length;
  const end = v.length - parts[parts.length - 1].length;
  if (end < at) return false;
  for (const mid of parts.slice(1, -1)) {
    const i = v.indexOf(mid, at);
    if (i < 0 || i + mid.length > end) return false;
    at = i + mid.length;
  }
  return true;
}

/**
 * The provider whose claim names a policy uses: the one given (GitHub Enterprise Server and self-managed GitLab
 * have issuers of their own), else the one the issuer implies (GitHub's and gitlab.com's), else generic.
 */
export function providerOf(issuer: string, given?: string): Provider {
  if (given === 'github' || given === 'gitlab' || given === 'generic') return given;
  const iss = normalizeIssuer(issuer);
  if (iss === GITHUB_ISSUER) return 'github';
  if (iss === GITLAB_ISSUER) return 'gitlab';
  return 'generic';
}

/** The run a workflow's claims name, as a link (GitHub's and GitLab's layouts), or null. */
function runUrl(provider: Provider, c: Record<string, string>): string | null {
  if (provider === 'github' && c.repository && c.run_id && normalizeIssuer(c.iss ?? '') === GITHUB_ISSUER) {
    return `https://github.com/${c.repository}/actions/runs/${c.run_id}${c.run_attempt ? `/attempts/${c.run_attempt}` : ''}`;
  }
  if (provider === 'gitlab' && c.project_path && c.job_id && c.iss) return `${normalizeIssuer(c.iss)}/${c.project_path}/-/jobs/${c.job_id}`;
  return null;
}

/** How a trusted publisher shows: `github:OWNER/REPO`, `gitlab:GROUP/PROJECT`, else `oidc:SUBJECT`. */
function publisherName(provider: Provider, c: Record<string, string>): string {
  const name = provider === 'github' && c.repository ? `github:${c.repository}` : provider === 'gitlab' && c.project_path ? `gitlab:${c.project_path}` : `oidc:${c.sub ?? '?'}`;
  return name.slice(0, 200);
}

/** The actor a stored trusted publishing token stands for (token-service's lookup branch for kind 'publisher'). */
export function publisherActor(tokenId: number, json: string | null, scopes: ReadonlySet<Scope>): Actor | null {
  if (!json) return null;
  const p = JSON.parse(json) as PublisherJson;
  // Whatever was stored, such a token writes at most: its reach is capped here as well as by its scopes.
  const limit: AccessLimit = { resources: p.limit.resources.map((r) => ({ ...r, reach: 'write' as const })) };
  return { kind: 'publisher', name: p.name, policyId: p.policies[0], claims: p.claims, scopes, tokenId, limit };
}

/** What a version published by `actor` keeps of the workflow run (null for anyone but a trusted publisher). */
export function publishedVia(actor: Actor): PublishedVia | null {
  if (actor.kind !== 'publisher') return null;
  const c = actor.claims;
  const provider: Provider = actor.name.startsWith('github:') ? 'github' : actor.name.startsWith('gitlab:') ? 'gitlab' : 'generic';
  return { provider, issuer: c.iss ?? '', claims: { ...c }, run_url: runUrl(provider, c) };
}

export class TrustedPublishers {
  readonly verifier: IdTokenVerifier;

  constructor(
    private readonly db: Db,
    private readonly identity: Identity,
    private readonly authz: Authorizer,
    config: { issuers: string[]; caFile?: string },
    private readonly audit: AuditLog = new AuditLog(db),
  ) {
    this.verifier = new IdTokenVerifier(config);
  }

  // ---- policies -----------------------------------------------------------------------------------------------

  /** Resolves a target and checks that `actor` may manage its policies (manage() decides). */
  private async resolve(actor: Actor, t: PolicyTarget) {
    const owner = await this.identity.requireOwner(t.owner);
    if (t.kind === 'package') {
      const pkg = await this.db.selectFrom('packages').selectAll().where('owner_id', '=', owner.id).where('type', '=', t.type).where('lower_name', '=', t.name.toLowerCase()).where('deleted_at', 'is', null).executeTakeFirst();
      if (!pkg) throw notFound('no such package');
      await this.authz.manage(actor, { what: 'trusted-publishers', owner, pkg });
      return { owner, pkg, repo: undefined };
    }
    if (t.kind === 'repo') {
      const repo = await this.identity.findRepo(owner.name, t.repo);
      if (!repo) throw notFound('no such repository');
      await this.authz.manage(actor, { what: 'trusted-publishers', owner, repo });
      return { owner, pkg: undefined, repo };
    }
    await this.authz.manage(actor, { what: 'trusted-publishers', owner });
    return { owner, pkg: undefined, repo: undefined };
  }

  /** Adds a policy at `target`; Invalid when its issuer, claims or JWKS URL would not make a sound policy. */
  async add(actor: Actor, target: PolicyTarget, input: NewPolicy): Promise<PolicyInfo> {
    const { owner, pkg, repo } = await this.resolve(actor, target);
    const given = input.provider ?? (input.issuer ? undefined : 'github');
    if (given !== undefined && !['github', 'gitlab', 'generic'].includes(given)) throw invalid('provider must be github, gitlab or generic');
    const issuer = normalizeIssuer(input.issuer ?? (given === 'gitlab' ? GITLAB_ISSUER : given === 'github' ? GITHUB_ISSUER : ''));
    if (!issuer) throw invalid('a generic provider needs its issuer URL');
    if (!this.verifier.accepts(issuer)) throw invalid(`this server does not accept ID tokens from ${issuer} (the operator lists accepted issuers in WHARF_OIDC_ISSUERS: ${this.verifier.acceptedIssuers.join(', ')})`);
    const provider = providerOf(issuer, given);
    // GitHub's and gitlab.com's issuers are shared by every repository there: their claims are read by their own
    // rules, with their own keys (discovery). A policy naming another provider for them, or keys of its own on
    // their origin (gitlab.com serves any project's raw files there), would let its author sign their own claims.
    const known = issuer === GITHUB_ISSUER ? 'github' : issuer === GITLAB_ISSUER ? 'gitlab' : null;
    if (known && provider !== known) throw invalid(`${issuer} issues ${known} ID tokens: the policy's provider must be ${known}`);
    if (known && input.jwks_url) throw invalid(`${issuer}'s keys come from its discovery document: a policy may not name a jwks_url for it`);
    const jwksUrl = input.jwks_url ? checkJwksUrl(input.jwks_url, issuer) : null;
    const claims = checkClaims(provider, input.claims);
    let packageType: string | null = null;
    let packageName: string | null = null;
    if (target.kind === 'owner') {
      if (!target.type || !target.name) throw invalid('a policy on an owner names the package it may create: its type and name');
      if (!/^[a-z][a-z0-9]{0,31}$/.test(target.type) || target.name.length > 300) throw invalid('invalid package type or name');
      packageType = target.type;
      packageName = target.name;
    } else if (pkg) {
      packageType = pkg.type;
      packageName = pkg.name;
    }
    const row = await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const row = await trx.insertInto('trusted_publishers').values({
        owner_id: owner.id, repository_id: repo?.id ?? null, package_id: pkg?.id ?? null, package_type: packageType, package_name: packageName,
        provider, issuer, jwks_url: jwksUrl, claims: JSON.stringify(claims), created_by: actor.kind === 'user' ? actor.user.id : null, created_at: nowIso(),
      }).returningAll().executeTakeFirstOrThrow();
      await this.audit.record(trx, {
        action: 'trusted_publisher.create', actor, ownerId: owner.id, repositoryId: repo?.id ?? null, packageId: pkg?.id ?? null,
        target: packageName ? `${packageType}/${packageName}` : null, details: { trusted_publisher_id: row.id, provider, issuer, claims, ...(jwksUrl ? { jwks_url: jwksUrl } : {}) },
      });
      return row;
    });
    return this.info(row, owner.name, repo ? `${owner.name}/${repo.name}` : null);
  }

  /** The policies at exactly `target` (an owner's: those on the owner itself, for packages it may create). */
  async list(actor: Actor, target: PolicyTarget): Promise<PolicyInfo[]> {
    const { owner, pkg, repo } = await this.resolve(actor, target);
    let q = this.db.selectFrom('trusted_publishers').selectAll().where('owner_id', '=', owner.id);
    if (pkg) q = q.where('package_id', '=', pkg.id);
    else if (repo) q = q.where('repository_id', '=', repo.id);
    else q = q.where('package_id', 'is', null).where('repository_id', 'is', null);
    const rows = await q.orderBy('id').execute();
    return rows.map((r) => this.info(r, owner.name, repo ? `${owner.name}/${repo.name}` : null));
  }

  /** Removes a policy at `target`, and revokes the live tokens it issued, in one transaction. */
  async remove(actor: Actor, target: PolicyTarget, id: number): Promise<void> {
    const here = await this.list(actor, target);
    const p = here.find((x) => x.id === id);
    if (!p) throw notFound('no such trusted publisher');
    const owner = await this.identity.requireOwner(p.owner);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      await trx.deleteFrom('trusted_publishers').where('id', '=', id).execute();
      // Live publisher tokens are few (15 minutes each). Those naming this policy lose what it let them write; a
      // token left with nothing ends. What other policies gave a token stays: removing one's own policy cannot end
      // a token another owner's policy issued too.
      const live = await trx.selectFrom('tokens').select(['id', 'publisher']).where('kind', '=', 'publisher').where('revoked_at', 'is', null).where('expires_at', '>', nowIso()).execute();
      const ended: number[] = [];
      for (const r of live) {
        const pj = r.publisher ? (JSON.parse(r.publisher) as PublisherJson) : null;
        const at = pj ? pj.policies.indexOf(id) : -1;
        if (!pj || at < 0) continue;
        if (pj.policies.length === 1) {
          ended.push(r.id);
          continue;
        }
        const narrowed: PublisherJson = { ...pj, policies: pj.policies.filter((_, i) => i !== at), limit: { resources: pj.limit.resources.filter((_, i) => i !== at) } };
        await trx.updateTable('tokens').set({ publisher: JSON.stringify(narrowed), trusted_publisher_id: narrowed.policies[0] }).where('id', '=', r.id).execute();
      }
      if (ended.length) await trx.updateTable('tokens').set({ revoked_at: nowIso() }).where('id', 'in', ended).execute();
      await this.audit.record(trx, {
        action: 'trusted_publisher.delete', actor, ownerId: owner.id, repositoryName: p.repository,
        target: p.package_name ? `${p.package_type}/${p.package_name}` : null, details: { trusted_publisher_id: id, provider: p.provider, issuer: p.issuer, claims: p.claims, revoked_tokens: ended.length },
      });
    });
  }

  private info(r: PolicyRow, ownerName: string, repository: string | null): PolicyInfo {
    return {
      id: r.id, provider: r.provider, issuer: r.issuer, jwks_url: r.jwks_url, claims: JSON.parse(r.claims) as Record<string, string>,
      scope: r.package_id != null ? 'package' : r.repository_id != null ? 'repository' : 'owner',
      owner: ownerName, repository, package_type: r.package_type, package_name: r.package_name, created_at: r.created_at,
    };
  }

  // ---- the exchange -------------------------------------------------------------------------------------------

  /**
   * Exchanges a CI job's ID token for a trusted publishing token. `audience`: what the token must have been
   * requested for (npm: `npm:HOST`; every other client: `wharf:HOST`). `pkg`: the package the client is about to
   * publish (npm names it in the URL): only policies covering it count. Unauthorized for a token that does not
   * verify (or was used before), Forbidden when no policy accepts the workflow; nothing is written then.
   */
  async exchange(idToken: string, o: { audience: string; pkg?: { owner: string; type: string; name: string }; owner?: string; actor?: Actor }): Promise<{ token: string; expiresAt: string; name: string; limit: AccessLimit; policies: number[] }> {
    if (typeof idToken !== 'string' || idToken.length > 16 * 1024) throw unauthorized('an ID token is required');
    const iss = this.verifier.claimedIssuer(idToken);
    // Policies made before today's rules for a sound one (sound()) are not trusted either.
    const candidates = (await this.candidates(normalizeIssuer(iss), o.pkg ?? (o.owner !== undefined ? { owner: o.owner } : undefined))).filter(sound);
    // Verified with each key source among the candidates (a policy may name a JWKS URL; the rest use discovery). A
    // policy counts only if the token verifies with its own source: one whose keys do not sign this token (however
    // early it was made) neither matches nor keeps the others from matching.
    const sources = [...new Set(candidates.map((p) => p.jwks_url ?? ''))];
    if (!sources.length) sources.push('');
    let payload: Awaited<ReturnType<IdTokenVerifier['verify']>> | undefined;
    const verified = new Set<string>();
    let firstError: unknown;
    for (const src of sources) {
      try {
        payload = await this.verifier.verify(idToken, iss, o.audience, src || null);
        verified.add(src);
      } catch (e) {
        firstError ??= e;
      }
    }
    if (!payload) throw firstError;
    const claims: Record<string, string> = {};
    for (const [k, v] of Object.entries(payload)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') claims[k] = String(v);
    let matched = candidates.filter((p) => verified.has(p.jwks_url ?? '') && policyMatches(p, claims));
    // One owner per token. Without a package or owner named, policies of several owners may accept the same job
    // (anyone may trust anyone's repository for their own packages): the job's own owner, as its claims name it, is
    // the one meant; otherwise the job must say which. Another owner's policy then neither joins the job's token nor
    // sees its run in its audit log.
    const owners = new Set(matched.map((p) => p.owner_id));
    if (owners.size > 1) {
      const own = await this.identity.findOwner(jobOwnerOf(claims) ?? '');
      if (own && owners.has(own.id)) matched = matched.filter((p) => p.owner_id === own.id);
      else throw conflict(`policies of ${owners.size} owners accept this job: name the owner to publish to ({"owner": "NAME"} in the request)`);
    }
    const provider = (matched[0] ?? candidates[0])?.provider ?? providerOf(iss);
    if (!matched.length) {
      const who = publisherName(provider, claims);
      throw forbidden(`no trusted publisher ${o.pkg ? `of ${o.pkg.type} package ${o.pkg.owner}/${o.pkg.name} ` : ''}accepts ${who}${claims.workflow_ref ? ` (workflow ${claims.workflow_ref})` : claims.ci_config_ref_uri ? ` (pipeline ${claims.ci_config_ref_uri})` : ''}`);
    }
    const kept: Record<string, string> = {};
    for (const k of KEPT_CLAIMS) if (claims[k] !== undefined) kept[k] = claims[k].slice(0, 500);
    const limit: AccessLimit = { resources: matched.map(resourceOf) };
    const name = publisherName(provider, claims);
    const json: PublisherJson = { name, provider, policies: matched.map((p) => p.id), claims: kept, limit };
    const token = mintToken('publisher');
    const expiresAt = nowIso(Date.now() + PUBLISHER_TOKEN_TTL_MS);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const now = nowIso();
      await trx.deleteFrom('oidc_jtis').where('expires_at', '<', now).execute();
      try {
        // Kept until the ID token itself expires (plus the skew it is allowed): later, it is refused as expired
        // anyway. An exp past a day is kept a day (it is refused after an hour by its iat in any case).
        const keep = Math.min((payload.exp + 120) * 1000, Date.now() + 864e5);
        await trx.insertInto('oidc_jtis').values({ key: `${normalizeIssuer(iss)} ${payload.jti}`, expires_at: nowIso(keep) }).execute();
      } catch (e) {
        if (isUniqueViolation(e)) throw unauthorized('the ID token was refused: it was exchanged before (its jti is spent)');
        throw e;
      }
      const row = await trx.insertInto('tokens').values({
        user_id: null, kind: 'publisher', name, token_hash: hashToken(token), token_prefix: token.slice(0, 8), scopes: PUBLISHER_SCOPES.join(','),
        repository_id: null, expires_at: expiresAt, revoked_at: null, last_used_at: null, created_at: now, trusted_publisher_id: matched[0].id, publisher: JSON.stringify(json),
      }).returning('id').executeTakeFirstOrThrow();
      const actor: Actor = { kind: 'publisher', name, policyId: matched[0].id, claims: kept, scopes: new Set(PUBLISHER_SCOPES), tokenId: row.id, limit, via: { credential: 'oidc', ip: o.actor?.via?.ip } };
      for (const ownerId of new Set(matched.map((p) => p.owner_id))) {
        await this.audit.record(trx, {
          action: 'trusted_publisher.exchange', actor, ownerId, target: name,
          details: { access_token_id: row.id, token_prefix: token.slice(0, 8), expires_at: expiresAt, trusted_publisher_ids: json.policies, claims: kept, run_url: runUrl(provider, kept) },
        });
      }
    });
    return { token, expiresAt, name, limit, policies: json.policies };
  }

  /**
   * The policies of `issuer` that could cover `pkg` (all of its owner's when only the owner is named; all of the
   * issuer's when neither is).
   */
  private async candidates(issuer: string, pkg?: { owner: string; type?: string; name?: string }): Promise<PolicyRow[]> {
    let q = this.db.selectFrom('trusted_publishers').selectAll().where('issuer', '=', issuer);
    if (pkg) {
      const owner = await this.identity.findOwner(pkg.owner);
      if (!owner) return [];
      q = q.where('owner_id', '=', owner.id);
      const rows = await q.orderBy('id').execute();
      if (pkg.type === undefined || pkg.name === undefined) return rows;
      const p = await this.db.selectFrom('packages').select(['id', 'repository_id']).where('owner_id', '=', owner.id).where('type', '=', pkg.type).where('lower_name', '=', pkg.name.toLowerCase()).executeTakeFirst();
      return rows.filter((r) =>
        r.package_id != null ? r.package_id === p?.id
        : r.repository_id != null ? !p || p.repository_id === r.repository_id
        : r.package_type === pkg.type && r.package_name?.toLowerCase() === pkg.name!.toLowerCase());
    }
    return q.orderBy('id').execute();
  }
}

/** Does every claim pattern of the policy match the token's claims? */
function policyMatches(p: PolicyRow, claims: Record<string, string>): boolean {
  const rules = JSON.parse(p.claims) as Record<string, string>;
  return Object.entries(rules).every(([k, pattern]) => claims[k] !== undefined && claimMatches(pattern, claims[k], CASELESS.has(k)));
}

/** What a matching policy lets its token write. */
function resourceOf(p: PolicyRow): LimitResource {
  if (p.package_id != null) return { ownerId: p.owner_id, packageId: p.package_id, reach: 'write' };
  if (p.repository_id != null) return { ownerId: p.owner_id, repositoryId: p.repository_id, reach: 'write' };
  return { ownerId: p.owner_id, type: p.package_type, name: p.package_name, reach: 'write' };
}

/** A policy's claim rules, checked: known names for the provider, bounded patterns, one binding claim pinned. */
function checkClaims(provider: Provider, raw: Record<string, unknown>): Record<string, string> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('claims must be an object of claim name → pattern');
  const known = PROVIDER_CLAIMS[provider];
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string' || v.length > 500 || /[\u0000-\u001f]/.test(v)) throw invalid(`the pattern for ${k} must be a string of at most 500 characters`);
    if (provider === 'generic' ? !/^[a-z_][a-z0-9_]{0,63}$/i.test(k) || ['iss', 'aud', 'exp', 'nbf', 'iat', 'jti'].includes(k) : !known.claims.includes(k)) {
      throw invalid(`unknown claim "${k}" for ${provider}${provider !== 'generic' ? ` (known: ${known.claims.join(', ')})` : ''}`);
    }
    out[k] = v;
  }
  if (!known.binding.some((k) => out[k] !== undefined && pins(provider, k, out[k]))) {
    throw invalid(`a ${provider} policy must pin ${BINDING_HELP[provider]}: every job of the issuer gets ID tokens`);
  }
  return out;
}

/**
 * Whether a binding claim's pattern names whose jobs it trusts: the owner (GitHub's user or organization, GitLab's
 * top-level group) spelled out before any `*`, an id exactly, a generic subject not starting with `*`. `acme/*` trusts
 * the jobs of acme's repositories; `repo:*`, `a*` or `1*` would trust strangers'.
 */
function pins(provider: Provider, claim: string, pattern: string): boolean {
  if (claim === 'repository_id' || claim === 'project_id') return /^[0-9]+$/.test(pattern);
  if (claim === 'repository' || claim === 'project_path') return /^[^*/]+\//.test(pattern);
  if (provider === 'github') return /^repo:[^*/:]+\//.test(pattern);
  if (provider === 'gitlab') return /^project_path:[^*/:]+\//.test(pattern);
  return !pattern.startsWith('*');
}

const BINDING_HELP: Record<Provider, string> = {
  github: 'the repository (`repository`: OWNER/REPO, or OWNER/* for all of an owner\'s), its `repository_id` exactly, or a `sub` of the form repo:OWNER/…',
  gitlab: 'the project (`project_path`: GROUP/PROJECT, or GROUP/*), its `project_id` exactly, or a `sub` of the form project_path:GROUP/…',
  generic: '`sub` (without a leading *)',
};

/** Whether a stored policy meets the rules add() holds new ones to (a provider and keys its issuer's own, a pinned binding claim). */
function sound(p: PolicyRow): boolean {
  const known = p.issuer === GITHUB_ISSUER ? 'github' : p.issuer === GITLAB_ISSUER ? 'gitlab' : null;
  if (known && (p.provider !== known || p.jwks_url)) return false;
  const rules = JSON.parse(p.claims) as Record<string, string>;
  return PROVIDER_CLAIMS[p.provider].binding.some((k) => rules[k] !== undefined && pins(p.provider, k, rules[k]));
}

/** The owner a job's claims name: GitHub's repository owner, GitLab's top-level group. */
function jobOwnerOf(c: Record<string, string>): string | undefined {
  if (c.repository_owner) return c.repository_owner;
  if (c.repository) return c.repository.split('/')[0];
  if (c.project_path) return c.project_path.split('/')[0];
  return undefined;
}

/** A generic issuer's JWKS URL: https, on the issuer's own origin (so a policy cannot point Wharf elsewhere). */
function checkJwksUrl(url: string, issuer: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid('jwks_url is not a URL');
  }
  if (u.protocol !== 'https:' || u.origin !== new URL(issuer).origin) throw invalid(`jwks_url must be an https URL on the issuer's origin (${new URL(issuer).origin})`);
  return u.toString();
}
