// The audit log: every security-relevant change (tokens, sign-in failures, memberships and roles, visibility,
// package access, signing policy, hooks, package deletion), with who made it, with which kind of credential, from
// which address, and when. An entry is written by the verb that makes the change, with the change's own
// transaction handle (`record(trx, …)`): a change that rolls back leaves no entry, a committed one always has one,
// and no entry can claim a change that never happened. Entries copy the names of what they are about, so the log
// still reads after a user, repository or package is gone (the table has no foreign keys for the same reason).
import type { Db } from '../../db/database.ts';
import type { AuditLogRow } from '../../db/tables.ts';
import type { Actor } from '../auth/actor.ts';
import { actorName, credentialOf } from '../auth/actor.ts';
import { nowIso } from '../clock.ts';
import { invalid } from '../errors.ts';

/**
 * Every action the log records, with what it means (docs/api.md lists the same). GitHub's names where GitHub has
 * the event (org.*, repo.*, hook.*); Wharf's own in the same `category.verb` form elsewhere.
 */
export const AUDIT_ACTIONS = {
  'org.create': 'An organization was created.',
  'org.add_member': 'A user was added to an organization.',
  'org.update_member': "A member's role in an organization changed (member ⇄ owner).",
  'org.remove_member': 'A user was removed from an organization.',
  'repo.create': 'A repository was created.',
  'repo.access': "A repository's visibility changed.",
  'repo.add_member': 'A collaborator was added to a repository, or their role changed.',
  'repo.remove_member': 'A collaborator was removed from a repository.',
  'personal_access_token.create': 'A personal access token was created.',
  'personal_access_token.revoke': 'A personal access token was revoked.',
  'job_token.create': 'A job token (bound to one repository) was minted.',
  'job_token.revoke': 'A job token was revoked.',
  'hook.create': 'A webhook was added to a user, organization or repository.',
  'hook.config_changed': "A webhook's URL, secret, events or active flag changed.",
  'hook.destroy': 'A webhook was deleted.',
  'package.delete': 'A package was deleted (restorable for the restore window).',
  'package.restore': 'A deleted package was restored.',
  'package_version.delete': 'A package version was deleted.',
  'package_version.restore': 'A deleted package version was restored.',
  'package_version.promote': 'A package version was copied to another registry or owner (promoted).',
  'package.visibility': "A package's visibility changed.",
  'package.settings': "A package's linked repository or access inheritance changed.",
  'package.access_grant': 'A user or repository was given a role on a package (or their role changed).',
  'package.access_revoke': "A user's or repository's role on a package was removed.",
  'signing.trust': 'A public key was trusted to sign an owner\'s (or one image\'s) content.',
  'signing.untrust': 'A trusted signing key was removed.',
  'signing.policy': '"Require signed images" was turned on or off.',
  'signing.identity.add': 'A keyless signer (certificate identity and issuer) was trusted to sign an owner\'s (or one image\'s) content.',
  'signing.identity.remove': 'A trusted keyless signer was removed.',
  'proxy.create': 'A pull-through proxy (an organization mirroring an upstream registry) was created.',
  'proxy.update': "A proxy's upstream, credentials, visibility, TTL, timeout or default flag changed.",
  'proxy.destroy': 'A proxy stopped proxying (its organization and what it cached remain).',
  'proxy.block': 'A name pattern was barred from falling through to the default proxy.',
  'proxy.unblock': 'A name pattern may fall through to the default proxy again.',
  'trusted_publisher.create': 'A trust policy (OIDC trusted publishing) was added to a package, repository or owner.',
  'trusted_publisher.delete': 'A trust policy was removed (the tokens it issued are revoked with it).',
  'trusted_publisher.exchange': 'A CI ID token was exchanged for a trusted publishing token (details: the workflow run).',
  'package_version.publish': 'A version was published with a trusted publishing token (details: the workflow run).',
  'retention.set': 'A retention rule of an owner, one of its formats or one package was set or changed.',
  'retention.remove': 'A retention rule was removed.',
  'tag.protect': 'A tag pattern was protected (its tags can no longer be moved or removed once set).',
  'tag.unprotect': 'A tag pattern is no longer protected.',
  'tag.protection_override': 'An owner admin moved or removed a protected tag, overriding its protection.',
  'user.create': 'A user account was created.',
  'user.login_failed': 'A sign-in with a wrong password (web, Basic auth, npm login or /v2/token).',
  'user.password_changed': "A user's password was changed.",
  'user.site_admin': 'A user was made a site administrator, or no longer is one.',
  'user.suspend': 'A user account was suspended.',
  'user.unsuspend': 'A suspended user account was reinstated.',
  'user.delete': 'A user account was deleted.',
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

/** The actor of changes made with the `wharf` CLI (it holds the database): recorded with credential `system`. */
export { systemActor } from '../auth/actor.ts';

/** One change to record. Names are looked up in the change's transaction when not given. */
export interface AuditEntry {
  action: AuditAction;
  actor: Actor;
  /** The user or organization whose log this belongs to (null: only in the actor's and the user's logs). */
  ownerId: number | null;
  /** The owner's name and kind, when the row is about to go (user.delete) or is already known. */
  owner?: { name: string; kind: 'user' | 'org' };
  /** The user the change is about: the member added, the token's owner, the account that failed to sign in. */
  userId?: number | null;
  userName?: string | null;
  repositoryId?: number | null;
  /** `OWNER/NAME`; looked up from `repositoryId` when not given. */
  repositoryName?: string | null;
  packageId?: number | null;
  /** A readable name of what changed (`npm/left-pad 1.0.0`, a hook's URL, a token's name). */
  target?: string | null;
  /** Facts of this action: old and new visibility, role, scopes, … (no secrets: this is shown to org owners). */
  details?: Record<string, unknown>;
}

/** A `phrase` parsed: GitHub's audit-log search qualifiers that Wharf supports. */
export interface AuditFilter {
  /** `action:org.add_member` (exact) or `action:org` (the category): any of them. */
  actions: string[];
  /** `-action:…`: none of them. */
  notActions: string[];
  actor?: string;
  user?: string;
  repo?: string;
  /** ISO bounds from `created:`: from inclusive, to exclusive. */
  createdFrom?: string;
  createdTo?: string;
}

export interface AuditQuery {
  /** Entries of one organization's or user's log. */
  ownerId?: number;
  /** Entries by this user. */
  actorId?: number;
  /** Entries by or about this user, or in their own namespace (a user's security log). */
  relatedTo?: number;
  filter?: AuditFilter;
  /** Cursors: entries older than `after` / newer than `before` (entry ids). */
  after?: number;
  before?: number;
  limit: number;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditLogRow[];
  /** The cursor (an entry id) for the next, older page (`after`), when there is one. */
  next: number | null;
  /** The cursor for the previous, newer page (`before`), when there is one. */
  prev: number | null;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const dayStart = (d: string) => {
  if (!DAY.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`))) throw invalid(`created: expects a date like 2026-01-31, got "${d}"`);
  return new Date(`${d}T00:00:00Z`).toISOString();
};
const dayEnd = (d: string) => new Date(Date.parse(dayStart(d)) + 864e5).toISOString();

/**
 * Parses GitHub's audit-log search phrase: `action:`, `-action:`, `actor:`, `user:`, `repo:` and `created:` (a
 * date, `>=`/`>`/`<=`/`<` a date, or `A..B`). Anything else is Invalid, so a typo never silently shows everything.
 */
export function parsePhrase(phrase: string | undefined): AuditFilter {
  const f: AuditFilter = { actions: [], notActions: [] };
  for (const term of (phrase ?? '').trim().split(/\s+/).filter(Boolean)) {
    const m = /^(-?)([a-z_]+):(.+)$/.exec(term);
    if (!m) throw invalid(`unsupported search term "${term}": use action:, actor:, user:, repo: or created:`);
    const [, neg, key, value] = m;
    if (key === 'action') {
      if (!/^[a-z_]+(\.[a-z_]+)?$/.test(value)) throw invalid(`not an action: "${value}"`);
      (neg ? f.notActions : f.actions).push(value);
      continue;
    }
    if (neg) throw invalid(`only action: can be negated, not ${key}:`);
    if (key === 'actor') f.actor = value;
    else if (key === 'user') f.user = value;
    else if (key === 'repo') f.repo = value;
    else if (key === 'created') {
      const range = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(value);
      const op = /^(>=|<=|>|<)?(.+)$/.exec(value)!;
      if (range) [f.createdFrom, f.createdTo] = [dayStart(range[1]), dayEnd(range[2])];
      else if (op[1] === '>=') f.createdFrom = dayStart(op[2]);
      else if (op[1] === '>') f.createdFrom = dayEnd(op[2]);
      else if (op[1] === '<=') f.createdTo = dayEnd(op[2]);
      else if (op[1] === '<') f.createdTo = dayStart(op[2]);
      else [f.createdFrom, f.createdTo] = [dayStart(op[2]), dayEnd(op[2])];
    } else throw invalid(`unsupported search qualifier "${key}:": use action:, actor:, user:, repo: or created:`);
  }
  return f;
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  /**
   * Records a change. `db` must be the change's own transaction (use `this.db` only for events that are not a
   * change of stored state, such as a failed sign-in), so the entry commits or rolls back with the change.
   */
  async record(db: Db, e: AuditEntry): Promise<void> {
    await db.insertInto('audit_log').values(await this.row(db, e)).execute();
  }

  /** Records several entries with one statement (a batch of deletions), in the change's transaction. */
  async recordMany(db: Db, entries: AuditEntry[]): Promise<void> {
    if (!entries.length) return;
    const rows = [];
    for (const e of entries) rows.push(await this.row(db, e));
    await db.insertInto('audit_log').values(rows).execute();
  }

  /** The row of an entry, with the names it copies looked up when not given. */
  private async row(db: Db, e: AuditEntry) {
    const a = e.actor;
    const owner = e.owner ?? (e.ownerId != null ? await db.selectFrom('owners').select(['name', 'kind']).where('id', '=', e.ownerId).executeTakeFirst() : undefined);
    const userName = e.userName !== undefined || e.userId == null ? e.userName ?? null : (await db.selectFrom('owners').select('name').where('id', '=', e.userId).executeTakeFirst())?.name ?? null;
    const repositoryName = e.repositoryName !== undefined || e.repositoryId == null
      ? e.repositoryName ?? null
      : await db.selectFrom('repositories').innerJoin('owners', 'owners.id', 'repositories.owner_id').select(['owners.name as owner', 'repositories.name as name'])
          .where('repositories.id', '=', e.repositoryId).executeTakeFirst().then((r) => (r ? `${r.owner}/${r.name}` : null));
    return {
      created_at: nowIso(),
      action: e.action,
      actor_id: a.kind === 'user' ? a.user.id : null,
      actor_name: actorName(a),
      credential: credentialOf(a),
      token_id: a.kind === 'user' || a.kind === 'job' || a.kind === 'publisher' ? a.tokenId : null,
      client_ip: a.via?.ip ?? null,
      owner_id: e.ownerId,
      owner_name: owner?.name ?? null,
      owner_kind: owner?.kind ?? null,
      user_id: e.userId ?? null,
      // A name typed at a sign-in prompt is kept short: people sometimes type their password there.
      user_name: userName === null ? null : userName.slice(0, 100),
      repository_id: e.repositoryId ?? null,
      repository_name: repositoryName,
      package_id: e.packageId ?? null,
      target: e.target ?? null,
      details: JSON.stringify(e.details ?? {}),
    };
  }

  /** One page of entries, newest first, with the cursors of the pages around it. */
  async list(o: AuditQuery): Promise<AuditPage> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (o.ownerId !== undefined) q = q.where('owner_id', '=', o.ownerId);
    if (o.actorId !== undefined) q = q.where('actor_id', '=', o.actorId);
    if (o.relatedTo !== undefined) {
      const u = o.relatedTo;
      q = q.where((eb) => eb.or([eb('actor_id', '=', u), eb('user_id', '=', u), eb('owner_id', '=', u)]));
    }
    const f = o.filter;
    if (f?.actions.length) {
      // A category (`org`) is the range ["org.", "org/"): '/' sorts right after '.', and no LIKE wildcards to escape.
      q = q.where((eb) => eb.or(f.actions.map((x) => (x.includes('.') ? eb('action', '=', x) : eb.and([eb('action', '>=', `${x}.`), eb('action', '<', `${x}/`)])))));
    }
    for (const x of f?.notActions ?? []) {
      q = x.includes('.') ? q.where('action', '!=', x) : q.where((eb) => eb.or([eb('action', '<', `${x}.`), eb('action', '>=', `${x}/`)]));
    }
    if (f?.actor) q = q.where((eb) => eb(eb.fn('lower', ['actor_name']), '=', f.actor!.toLowerCase()));
    if (f?.user) q = q.where((eb) => eb(eb.fn('lower', ['user_name']), '=', f.user!.toLowerCase()));
    if (f?.repo) q = q.where((eb) => eb(eb.fn('lower', ['repository_name']), '=', f.repo!.toLowerCase()));
    if (f?.createdFrom) q = q.where('created_at', '>=', f.createdFrom);
    if (f?.createdTo) q = q.where('created_at', '<', f.createdTo);

    const n = o.limit;
    if (o.before !== undefined) {
      // Walking back towards newer entries: read upwards from the cursor, then show them newest first.
      const rows = await q.where('id', '>', o.before).orderBy('id', 'asc').limit(n + 1).execute();
      const more = rows.length > n;
      const entries = rows.slice(0, n).reverse();
      return { entries, prev: more && entries.length ? entries[0].id : null, next: entries.length ? entries[entries.length - 1].id : null };
    }
    if (o.after !== undefined) q = q.where('id', '<', o.after);
    const rows = await q.orderBy('id', 'desc').limit(n + 1).execute();
    const more = rows.length > n;
    const entries = rows.slice(0, n);
    return { entries, next: more ? entries[entries.length - 1].id : null, prev: o.after !== undefined && entries.length ? entries[0].id : null };
  }
}
