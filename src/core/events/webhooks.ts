// Webhooks on owners and repositories, delivered like GitHub's: JSON with X-GitHub-Event, X-GitHub-Delivery
// and X-Hub-Signature-256 (HMAC-SHA256 of the body). Deliveries are queued in the database inside the change's
// own transaction (`enqueue`, an outbox: a change and its deliveries commit or roll back together), sent after the
// commit by whichever node runs the sender, with a timeout, retried with exponential backoff (a retry keeps its
// delivery id), logged, and can be redelivered. Publishing never waits for a hook's endpoint.
import type { Authorizer } from '../auth/authorize.ts';
import { AuditLog } from '../audit/audit.ts';
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Config } from '../../config.ts';
import { GenerationCache, scopedGeneration, UNCACHED, type ChangeGeneration } from '../../db/changes.ts';
import type { Db } from '../../db/database.ts';
import type { Webhook, WebhookDelivery } from '../../db/tables.ts';
import type { Actor } from '../auth/actor.ts';
import { nowIso } from '../clock.ts';
import { NODE_ID } from '../jobs/leases.ts';
import { invalid, notFound } from '../errors.ts';
import type { PackageEvent } from './events.ts';
import { addressLiteral, AddressPolicy, blocked, isSpecialAddress, normalizePattern, publicError, resolveAll } from './ssrf.ts';

export const HOOK_EVENTS = ['package', '*'] as const;

export interface HookScope {
  ownerId?: number;
  repositoryId?: number;
}

export interface HookInput {
  url: string;
  secret?: string | null;
  contentType?: 'json' | 'form';
  events?: string[];
  active?: boolean;
}

/**
 * Turns a domain event into GitHub's `package` payload, or null when no hook should hear of it. Runs inside the
 * change's transaction: it must read through `db` only.
 */
export type PayloadBuilder = (e: PackageEvent, db: Db) => Promise<{ action: string; ownerId: number; repositoryId: number | null; payload: unknown } | null>;

const MAX_REDIRECTS = 3;
/** A claim outlasts its attempt's deadline by this much: the time to record the outcome. */
const CLAIM_MARGIN_MS = 2_000;
const RESPONSE_LOG_BYTES = 4096;

/** The `code` of the error a refused hook target gets (the REST API renders it as 422 Validation Failed). */
export const TARGET_REFUSED = 'WEBHOOK_TARGET_REFUSED';

/** An allow-list entry as listed: from the database (instance-wide when `ownerId` is null) or from the environment. */
export interface AllowlistEntry {
  ownerId: number | null;
  pattern: string;
  source: 'database' | 'environment';
  createdAt: string | null;
}

function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(`invalid webhook URL "${url}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('a webhook URL must be http or https');
  if (u.username || u.password) throw invalid('put webhook credentials in its secret, not its URL');
  return u.toString();
}

function checkEvents(events: string[] | undefined): string[] {
  const list = events?.length ? events : ['package'];
  for (const e of list) if (!(HOOK_EVENTS as readonly string[]).includes(e)) throw invalid(`unknown webhook event "${e}" (known: ${HOOK_EVENTS.join(', ')})`);
  return list;
}

export class Webhooks {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Deliveries were queued since the sender was last woken after a change. */
  private queued = false;
  builder: PayloadBuilder | null = null;
  /** Whether any active hook exists, until the webhooks table changes (most registries have few or none). */
  private readonly anyActive: GenerationCache<boolean>;

  /** PostgreSQL claims with SKIP LOCKED; SQLite has one writer at a time and no row locks. */
  private get dialect(): 'sqlite' | 'postgres' {
    return this.config.databaseUrl.startsWith('sqlite:') ? 'sqlite' : 'postgres';
  }

  /** Resolves a host name when a hook is created (replaceable in tests, so they need no DNS). */
  resolveHost: typeof resolveAll = resolveAll;

  constructor(private readonly db: Db, private readonly config: Config, private readonly logger?: Logger, changes?: ChangeGeneration, private readonly authz?: Authorizer, private readonly audit: AuditLog = new AuditLog(db)) {
    // Without a change feed nothing is cached.
    this.anyActive = new GenerationCache(changes ? scopedGeneration(changes, ['webhooks']) : UNCACHED);
  }

  // ---- hooks ----

  /** Throws unless `actor` may manage the hooks of `scope` (a repository's: admin:repo_hook; an owner's: admin:org_hook). */
  async guard(actor: Actor, scope: HookScope): Promise<void> {
    if (!this.authz) throw new Error('Webhooks was built without an Authorizer');
    if (scope.repositoryId) {
      const repo = await this.db.selectFrom('repositories').select(['id', 'owner_id', 'visibility']).where('id', '=', scope.repositoryId).executeTakeFirst();
      if (!repo) throw notFound();
      return this.authz.manage(actor, { what: 'repo-hooks', repo });
    }
    const owner = await this.db.selectFrom('owners').select(['id', 'kind', 'name']).where('id', '=', scope.ownerId!).executeTakeFirst();
    if (!owner) throw notFound();
    return this.authz.manage(actor, { what: 'owner-hooks', owner });
  }

  /** Creates a hook; its URL must not reach a private address its owner was not allowed (422 otherwise). */
  async create(actor: Actor, scope: HookScope, input: HookInput): Promise<Webhook> {
    await this.guard(actor, scope);
    const url = checkUrl(input.url);
    const events = checkEvents(input.events);
    await this.checkTarget(url, await this.ownerIdOf(scope));
    const now = nowIso();
    const ownerId = await this.ownerIdOf(scope);
    return this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const hook = await trx
        .insertInto('webhooks')
        .values({
          owner_id: scope.repositoryId ? null : (scope.ownerId ?? null), repository_id: scope.repositoryId ?? null, url, secret: input.secret || null,
          content_type: input.contentType === 'form' ? 'form' : 'json', events: JSON.stringify(events), active: input.active === false ? 0 : 1, created_at: now, updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.audit.record(trx, { action: 'hook.create', actor, ownerId, repositoryId: scope.repositoryId ?? null, target: hook.url, details: { hook_id: hook.id, events, content_type: hook.content_type, active: hook.active === 1 } });
      return hook;
    });
  }

  async list(actor: Actor, scope: HookScope): Promise<Webhook[]> {
    await this.guard(actor, scope);
    return this.listAt(scope);
  }

  private async listAt(scope: HookScope): Promise<Webhook[]> {
    let q = this.db.selectFrom('webhooks').selectAll();
    q = scope.repositoryId ? q.where('repository_id', '=', scope.repositoryId) : q.where('owner_id', '=', scope.ownerId!).where('repository_id', 'is', null);
    return q.orderBy('id').execute();
  }

  async get(actor: Actor, scope: HookScope, id: number): Promise<Webhook> {
    await this.guard(actor, scope);
    return this.getAt(scope, id);
  }

  private async getAt(scope: HookScope, id: number): Promise<Webhook> {
    const hook = (await this.listAt(scope)).find((h) => h.id === id);
    if (!hook) throw notFound('hook not found');
    return hook;
  }

  /** A hook by id, whatever it is on (for the admin CLI, which may manage every hook). */
  async byId(id: number): Promise<Webhook> {
    const hook = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!hook) throw notFound(`no hook ${id}`);
    return hook;
  }

  /** The scope a hook is on. */
  static scopeOf(hook: Webhook): HookScope {
    return hook.repository_id != null ? { repositoryId: hook.repository_id } : { ownerId: hook.owner_id! };
  }

  /** Changes a hook; a new URL is checked as on creation, before anything is written. */
  async update(actor: Actor, scope: HookScope, id: number, input: Partial<HookInput>): Promise<Webhook> {
    const before = await this.get(actor, scope, id);
    const set: Record<string, unknown> = { updated_at: nowIso() };
    if (input.url !== undefined) {
      set.url = checkUrl(input.url);
      await this.checkTarget(set.url as string, await this.ownerIdOf(scope));
    }
    if (input.secret !== undefined) set.secret = input.secret || null;
    if (input.contentType !== undefined) set.content_type = input.contentType === 'form' ? 'form' : 'json';
    if (input.events !== undefined) set.events = JSON.stringify(checkEvents(input.events));
    if (input.active !== undefined) set.active = input.active ? 1 : 0;
    const ownerId = await this.ownerIdOf(scope);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      await trx.updateTable('webhooks').set(set).where('id', '=', id).execute();
      const after = (await trx.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst())!;
      await this.audit.record(trx, {
        action: 'hook.config_changed', actor, ownerId, repositoryId: scope.repositoryId ?? null, target: after.url,
        details: { hook_id: id, url: after.url, ...(after.url !== before.url ? { previous_url: before.url } : {}), events: JSON.parse(after.events), active: after.active === 1, secret_changed: input.secret !== undefined },
      });
    });
    return this.getAt(scope, id);
  }

  async remove(actor: Actor, scope: HookScope, id: number): Promise<void> {
    const hook = await this.get(actor, scope, id);
    const ownerId = await this.ownerIdOf(scope);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      await trx.deleteFrom('webhooks').where('id', '=', id).execute();
      await this.audit.record(trx, { action: 'hook.destroy', actor, ownerId, repositoryId: scope.repositoryId ?? null, target: hook.url, details: { hook_id: id } });
    });
  }

  // ---- the address policy ----

  /** The owner whose allow-list applies to hooks of `scope` (a repository's hooks: the repository's owner). */
  private async ownerIdOf(scope: HookScope): Promise<number | null> {
    if (scope.repositoryId == null) return scope.ownerId ?? null;
    const repo = await this.db.selectFrom('repositories').select('owner_id').where('id', '=', scope.repositoryId).executeTakeFirst();
    return repo?.owner_id ?? null;
  }

  /** The policy for hooks of `ownerId`: WHARF_WEBHOOK_ALLOWED_HOSTS, the instance-wide entries and the owner's own. */
  async policyFor(ownerId: number | null): Promise<AddressPolicy> {
    const rows = await this.db
      .selectFrom('webhook_allowlist')
      .select('pattern')
      .where((eb) => (ownerId == null ? eb('owner_id', 'is', null) : eb.or([eb('owner_id', 'is', null), eb('owner_id', '=', ownerId)])))
      .execute();
    return new AddressPolicy([...this.config.webhookAllowedHosts, ...rows.map((r) => r.pattern)]);
  }

  /**
   * Refuses (422) a URL whose host is, or resolves to, an address the owner's hooks may not reach. A name that does
   * not resolve is accepted: its DNS record may come later, and every delivery checks the address it connects to.
   */
  private async checkTarget(url: string, ownerId: number | null): Promise<void> {
    const u = new URL(url);
    const policy = await this.policyFor(ownerId);
    const verdict = await policy.checkTarget(u, { resolve: this.resolveHost });
    if (verdict !== 'refused') return;
    const what = addressLiteral(u.hostname) ? 'a' : 'a name that resolves to a';
    throw invalid(`the webhook URL's host ${u.hostname} is ${what} loopback, private, link-local or otherwise special address, which webhooks may not reach unless a site admin allows it`, TARGET_REFUSED);
  }

  /** The allow-list entries that apply to `ownerId`'s hooks (all of them when `ownerId` is undefined); environment entries first. */
  async allowlist(ownerId?: number | null): Promise<AllowlistEntry[]> {
    let q = this.db.selectFrom('webhook_allowlist').select(['owner_id', 'pattern', 'created_at']);
    if (ownerId === null) q = q.where('owner_id', 'is', null);
    else if (ownerId !== undefined) q = q.where((eb) => eb.or([eb('owner_id', 'is', null), eb('owner_id', '=', ownerId)]));
    // Sorted here: SQLite and PostgreSQL put null owners at opposite ends.
    const rows = (await q.execute()).sort((x, y) => (x.owner_id ?? 0) - (y.owner_id ?? 0) || (x.pattern < y.pattern ? -1 : x.pattern > y.pattern ? 1 : 0));
    return [
      ...this.config.webhookAllowedHosts.map((pattern) => ({ ownerId: null, pattern, source: 'environment' as const, createdAt: null })),
      ...rows.map((r) => ({ ownerId: r.owner_id, pattern: r.pattern, source: 'database' as const, createdAt: r.created_at })),
    ];
  }

  /** Lets hooks of `ownerId` (every owner's when null) reach `pattern`; returns the entry and whether it is new. */
  async allow(actor: Actor, pattern: string, ownerId: number | null): Promise<{ pattern: string; created: boolean }> {
    await this.authz?.manage(actor, { what: 'site' });
    let p: string;
    try {
      p = normalizePattern(pattern);
    } catch (e) {
      throw invalid((e as Error).message);
    }
    if (await this.findEntry(p, ownerId)) return { pattern: p, created: false };
    await this.db.insertInto('webhook_allowlist').values({ owner_id: ownerId, pattern: p, created_at: nowIso() }).execute();
    return { pattern: p, created: true };
  }

  /** Removes an entry added with `allow` (entries of WHARF_WEBHOOK_ALLOWED_HOSTS are changed in the environment). */
  async disallow(actor: Actor, pattern: string, ownerId: number | null): Promise<void> {
    await this.authz?.manage(actor, { what: 'site' });
    let p: string;
    try {
      p = normalizePattern(pattern);
    } catch {
      p = pattern.trim().toLowerCase();
    }
    const row = await this.findEntry(p, ownerId);
    if (!row) {
      if (ownerId === null && this.config.webhookAllowedHosts.some((h) => h.toLowerCase() === p)) throw invalid(`${p} is allowed by WHARF_WEBHOOK_ALLOWED_HOSTS: change the environment to remove it`);
      throw notFound(`${p} is not on the ${ownerId === null ? 'instance-wide ' : "owner's "}webhook allow-list`);
    }
    await this.db.deleteFrom('webhook_allowlist').where('id', '=', row.id).execute();
  }

  private findEntry(pattern: string, ownerId: number | null) {
    return this.db
      .selectFrom('webhook_allowlist')
      .select('id')
      .where('pattern', '=', pattern)
      .where((eb) => (ownerId === null ? eb('owner_id', 'is', null) : eb('owner_id', '=', ownerId)))
      .executeTakeFirst();
  }

  /**
   * The response of a delivery as `viewer` may see it. A response from a private address (one a site admin
   * allow-listed) is shown to site admins only: otherwise anyone who may create a hook could read an allow-listed
   * internal endpoint through it. Deliveries from before this was recorded count as private.
   */
  responseFor(viewer: Actor, d: WebhookDelivery): { status: number | null; body: string | null; hidden: boolean } {
    const admin = viewer.kind === 'system' || (viewer.kind === 'user' && viewer.user.isAdmin && viewer.scopes.has('site_admin'));
    const hidden = !admin && d.target_private !== 0 && d.response_body !== null;
    return { status: d.response_status, body: hidden ? null : d.response_body, hidden };
  }

  // ---- deliveries ----

  async deliveries(hookId: number, limit = 100): Promise<WebhookDelivery[]> {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hookId).orderBy('created_at', 'desc').limit(limit).execute();
  }

  async delivery(hookId: number, id: string): Promise<WebhookDelivery> {
    const d = await this.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hookId).where('id', '=', id).executeTakeFirst();
    if (!d) throw notFound('delivery not found');
    return d;
  }

  /** Sends a delivery's payload again, as a new delivery marked as a redelivery. */
  async redeliver(actor: Actor, hookId: number, id: string): Promise<WebhookDelivery> {
    await this.guard(actor, Webhooks.scopeOf(await this.byId(hookId)));
    const d = await this.delivery(hookId, id);
    const row = { ...d, id: randomUUID(), status: 'pending' as const, attempts: 0, next_attempt_at: nowIso(), claimed_until: null, claimed_by: null, response_status: null, response_body: null, error: null, duration_ms: null, redelivery: 1, created_at: nowIso(), delivered_at: null, target_private: null };
    await this.db.insertInto('webhook_deliveries').values(row).execute();
    this.kick();
    return row;
  }

  // ---- queueing ----

  /**
   * Queues a delivery to every active hook of the event's owner and linked repository, through `trx`: called by
   * Events.record inside the change's transaction, so the deliveries commit (or roll back) with the change. The
   * payload is built only when a hook listens, and is a snapshot as of the change.
   */
  async enqueue(trx: Db, e: PackageEvent): Promise<number> {
    if (!this.builder) return 0;
    const any = await this.anyActive.get('', async () => !!(await trx.selectFrom('webhooks').select('id').where('active', '=', 1).limit(1).executeTakeFirst()));
    if (!any) return 0;
    // One statement: the owner's hooks and the linked repository's, through the package row. A repository's hooks
    // hear of the packages that inherit its access only: one whose inheritance is off may be hidden from the
    // repository's admins, and its events with it.
    const rows = await trx
      .selectFrom('webhooks')
      .innerJoin('packages', (join) => join.on('packages.id', '=', e.packageId))
      .selectAll('webhooks')
      .where('webhooks.active', '=', 1)
      .where((eb) =>
        eb.or([
          eb.and([eb('webhooks.owner_id', '=', eb.ref('packages.owner_id')), eb('webhooks.repository_id', 'is', null)]),
          eb.and([eb('webhooks.repository_id', '=', eb.ref('packages.repository_id')), eb('packages.inherit_access', '=', 1)]),
        ]),
      )
      .execute();
    const hooks = rows.filter((h) => (JSON.parse(h.events) as string[]).some((ev) => ev === 'package' || ev === '*'));
    if (!hooks.length) return 0;
    const built = await this.builder(e, trx);
    if (!built) return 0;
    const now = nowIso();
    this.queued = true; // a spurious wake-up after a rollback costs one poll; the timer catches anything else
    for (const h of hooks) {
      await trx
        .insertInto('webhook_deliveries')
        .values({ id: randomUUID(), hook_id: h.id, event: 'package', action: built.action, payload: JSON.stringify(built.payload), status: 'pending', attempts: 0, next_attempt_at: now, claimed_until: null, response_status: null, response_body: null, error: null, duration_ms: null, redelivery: 0, created_at: now, delivered_at: null, target_private: null })
        .execute();
    }
    return hooks.length;
  }

  // ---- delivering ----

  /** Starts the delivery loop (every node may run one: deliveries are claimed atomically). */
  start(pollMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.kick(), pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Wakes the sender after a committed change, when that change (or one before it) queued a delivery. */
  afterChange(): void {
    if (!this.queued) return;
    this.queued = false;
    this.kick();
  }

  /** Runs a delivery pass now, unless one is running or this process does not send (the CLI: the server will). */
  kick(): void {
    if (this.running || !this.timer) return;
    this.running = true;
    this.deliverDue()
      .catch((err) => this.logger?.error({ err }, 'webhook delivery pass failed'))
      .finally(() => (this.running = false));
  }

  /** How long one attempt may take in all (every redirect included): it is cut off then, before its claim lapses. */
  private get attemptMs(): number {
    return this.config.webhookTimeoutMs * (MAX_REDIRECTS + 1);
  }

  /**
   * Claims up to `limit` due deliveries for this pass, in one statement: the rows are chosen and marked claimed
   * (until the attempt's deadline plus a margin) atomically, so of several nodes polling at once each row goes to
   * exactly one. PostgreSQL skips rows another node is claiming (FOR UPDATE SKIP LOCKED) instead of waiting for
   * them; SQLite runs one writer at a time. A claim that lapses (its node died mid-attempt) is taken again.
   */
  private async claim(limit: number): Promise<WebhookDelivery[]> {
    const now = nowIso();
    const claimedBy = `${NODE_ID}:${randomUUID().slice(0, 8)}`;
    const until = nowIso(Date.now() + this.attemptMs + CLAIM_MARGIN_MS);
    let due = this.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
      .orderBy('next_attempt_at')
      .limit(limit);
    if (this.dialect === 'postgres') due = due.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('webhook_deliveries')
      .set({ claimed_until: until, claimed_by: claimedBy })
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.sort((a, b) => (a.next_attempt_at ?? '').localeCompare(b.next_attempt_at ?? ''));
  }

  /** Delivers every due delivery; returns how many were attempted. */
  async deliverDue(): Promise<number> {
    let attempted = 0;
    for (;;) {
      const due = await this.claim(20);
      if (!due.length) return attempted;
      attempted += due.length;
      await Promise.all(due.map((d) => this.attempt(d)));
    }
  }

  private async attempt(d: WebhookDelivery): Promise<void> {
    const hook = await this.db.selectFrom('webhooks').selectAll().where('id', '=', d.hook_id).executeTakeFirst();
    if (!hook) return;
    const body = hook.content_type === 'form' ? `payload=${encodeURIComponent(d.payload)}` : d.payload;
    const headers: Record<string, string> = {
      'content-type': hook.content_type === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
      'user-agent': 'GitHub-Hookshot/wharf',
      'x-github-event': d.event,
      'x-github-delivery': d.id,
      'x-github-hook-id': String(hook.id),
      'x-github-hook-installation-target-type': hook.repository_id ? 'repository' : 'organization',
    };
    if (hook.secret) {
      headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', hook.secret).update(body).digest('hex')}`;
      headers['x-hub-signature'] = `sha1=${createHmac('sha1', hook.secret).update(body).digest('hex')}`;
    }
    const started = Date.now();
    let status: number | null = null;
    let responseBody: string | null = null;
    let error: string | null = null;
    let detail: string | null = null;
    const seen = { private: false };
    // The whole attempt has a deadline within the claim: past it, another node may take the delivery over.
    const deadline = AbortSignal.timeout(this.attemptMs);
    try {
      const policy = await this.policyFor(await this.ownerIdOf(Webhooks.scopeOf(hook)));
      const r = await this.post(policy, seen, hook.url, headers, body, 0, deadline);
      status = r.status;
      responseBody = r.body;
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (e) {
      // The owner reads `error`; what the connection failed on (addresses included) goes to the server log only.
      error = deadline.aborted ? `timed out after ${this.attemptMs} ms in all` : publicError(e as NodeJS.ErrnoException);
      detail = (e as Error).message;
    }
    const attempts = d.attempts + 1;
    const ok = error === null;
    const giveUp = !ok && attempts >= this.config.webhookMaxAttempts;
    // Only while the claim is still this pass's (it is, unless this node stalled past it and another took over).
    await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: ok ? 'delivered' : giveUp ? 'failed' : 'pending',
        attempts,
        next_attempt_at: ok || giveUp ? null : nowIso(Date.now() + this.config.webhookRetrySeconds * 1000 * 2 ** (attempts - 1)),
        claimed_until: null,
        claimed_by: null,
        response_status: status,
        response_body: responseBody,
        error,
        duration_ms: Date.now() - started,
        delivered_at: ok ? nowIso() : null,
        target_private: seen.private ? 1 : 0,
      })
      .where('id', '=', d.id)
      .where('claimed_by', '=', d.claimed_by)
      .execute();
    if (!ok) this.logger?.warn({ hook: hook.id, delivery: d.id, attempts, error, detail }, giveUp ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
  }

  /**
   * POSTs with the address policy applied to every connection, following at most a few redirects. `seen.private`
   * is set when a response came from a private (so allow-listed) address: its body is for site admins only.
   */
  private async post(policy: AddressPolicy, seen: { private: boolean }, url: string, headers: Record<string, string>, body: string, redirects = 0, signal?: AbortSignal): Promise<{ status: number; body: string }> {
    const u = new URL(url);
    // An address literal never goes through DNS lookup, so it is checked here.
    const literal = addressLiteral(u.hostname);
    if (literal && !policy.allows(literal, literal)) throw blocked();
    const mod = u.protocol === 'https:' ? https : http;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      // agent: false — a pooled keep-alive socket, connected under another owner's allow-list, must not be reused.
      const req = mod.request(u, { method: 'POST', agent: false, signal, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: policy.lookup as never, timeout: this.config.webhookTimeoutMs }, (res) => {
        const peer = res.socket?.remoteAddress;
        if (!peer || isSpecialAddress(peer)) seen.private = true;
        resolve(res);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`timed out after ${this.config.webhookTimeoutMs} ms`), { code: 'EWEBHOOKTIMEOUT' })));
      req.on('error', reject);
      req.end(body);
    });
    let text = '';
    for await (const c of res) if (text.length < RESPONSE_LOG_BYTES) text += c;
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      if (redirects >= MAX_REDIRECTS) throw Object.assign(new Error('too many redirects'), { code: 'EWEBHOOKREDIRECTS' });
      // The redirect target goes through the same address policy.
      return this.post(policy, seen, new URL(res.headers.location, u).toString(), headers, body, redirects + 1, signal);
    }
    return { status, body: text.slice(0, RESPONSE_LOG_BYTES) };
  }
}
