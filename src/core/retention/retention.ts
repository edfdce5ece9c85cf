// Retention rules and protected tags: the verbs the CLI, the REST API, the settings page and the schedule call.
// Rules belong to an owner, one format of it, or one package (the most specific applies); setting one and seeing
// its preview take admin on what it covers (the owner's admins, or the package's). A run deletes with the normal
// soft delete (publish.ts deleteVersion: restorable, an audit entry and a `deleted` webhook event each), a dependent
// with the version that took it (restoring that one brings it back), and only while the package is as it was
// planned (a push in between skips the package until the next run). Scheduled runs take a lease (jobs/leases.ts),
// so one node runs them at a time.
import type { Db } from '../../db/database.ts';
import type { Owner } from '../../db/tables.ts';
import type { AuditLog } from '../audit/audit.ts';
import { systemActor, type Actor } from '../auth/actor.ts';
import type { Authorizer } from '../auth/authorize.ts';
import { nowIso } from '../clock.ts';
import { invalid, notFound, WharfError } from '../errors.ts';
import { acquireLease, leaseInfo } from '../jobs/leases.ts';
import type { PackageRow } from '../model/packages.ts';
import type { Publisher } from '../publish.ts';
import { parseRule, planPackage, type Decision, type PlanVersion, type RetentionRule } from './plan.ts';

export { parseRule, type RetentionRule } from './plan.ts';

/** What a rule applies to: a whole owner, one format of it, or one package. */
export type Scope = { owner: Owner; type?: string; pkg?: undefined } | { owner: Owner; type?: undefined; pkg: PackageRow };

export interface RuleRow {
  id: number;
  owner: string;
  type: string | null;
  package: string | null;
  rule: RetentionRule;
  updated_at: string;
}

/** One version a run deletes (or a dry run would), and why. */
export interface RetentionItem {
  owner: string;
  type: string;
  package: string;
  version: string;
  tags: string[];
  reason: string;
  /** The version it goes with (its subject, or the index that listed it), when it is not judged on its own. */
  with?: string;
}

export interface RetentionReport {
  dryRun: boolean;
  packages: number;
  deleted: RetentionItem[];
  /** Packages that changed while the run went through them: left for the next run. */
  skipped: string[];
}

const RUN_LEASE = 'retention';
/** Deletions per transaction. */
const BATCH = 200;
const scopeKey = (s: Scope) => (s.pkg ? `package:${s.pkg.id}` : s.type ? `type:${s.type}` : 'owner');
const scopeName = (s: Scope) => (s.pkg ? `${s.pkg.type}/${s.owner.name}/${s.pkg.name}` : s.type ? `${s.type} packages of ${s.owner.name}` : `all packages of ${s.owner.name}`);

export class Retention {
  constructor(
    private readonly db: Db,
    private readonly authz: Authorizer,
    private readonly publisher: Publisher,
    private readonly audit: AuditLog,
  ) {}

  /** Throws unless `actor` administers what the scope covers. */
  private async allow(actor: Actor, s: Scope): Promise<void> {
    if (s.pkg) await this.authz.authorize(actor, 'admin', s.pkg);
    else await this.authz.manage(actor, { what: 'owner', owner: { id: s.owner.id, kind: s.owner.kind as 'user' | 'org', name: s.owner.name } });
  }

  private async record(trx: Db, action: 'retention.set' | 'retention.remove' | 'tag.protect' | 'tag.unprotect', actor: Actor, owner: Owner, target: string, details: Record<string, unknown>, packageId?: number) {
    await this.audit.record(trx, { action, actor, ownerId: owner.id, owner: { name: owner.name, kind: owner.kind as 'user' | 'org' }, packageId: packageId ?? null, target, details });
  }

  /** Sets (or replaces) the rule of a scope. */
  async setRule(actor: Actor, s: Scope, input: unknown): Promise<RetentionRule> {
    const rule = parseRule(input);
    await this.allow(actor, s);
    const now = nowIso();
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      await trx
        .insertInto('retention_rules')
        .values({ owner_id: s.owner.id, type: s.pkg ? s.pkg.type : (s.type ?? null), package_id: s.pkg?.id ?? null, scope: scopeKey(s), rule: JSON.stringify(rule), created_at: now, updated_at: now })
        .onConflict((oc) => oc.columns(['owner_id', 'scope']).doUpdateSet({ rule: JSON.stringify(rule), updated_at: now }))
        .execute();
      await this.record(trx, 'retention.set', actor, s.owner, scopeName(s), { rule }, s.pkg?.id);
    });
    return rule;
  }

  /** Removes the rule of a scope. */
  async removeRule(actor: Actor, s: Scope): Promise<void> {
    await this.allow(actor, s);
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const r = await trx.deleteFrom('retention_rules').where('owner_id', '=', s.owner.id).where('scope', '=', scopeKey(s)).executeTakeFirst();
      if (!Number(r.numDeletedRows)) throw notFound(`no retention rule for ${scopeName(s)}`);
      await this.record(trx, 'retention.remove', actor, s.owner, scopeName(s), {}, s.pkg?.id);
    });
  }

  /** The rules an owner has (for its admins), or the one rule of a package (for the package's admins). */
  async listRules(actor: Actor, s: Scope): Promise<RuleRow[]> {
    await this.allow(actor, s);
    let q = this.db.selectFrom('retention_rules').leftJoin('packages', 'packages.id', 'retention_rules.package_id')
      .select(['retention_rules.id', 'retention_rules.type', 'retention_rules.rule', 'retention_rules.updated_at', 'retention_rules.scope', 'packages.name as package'])
      .where('retention_rules.owner_id', '=', s.owner.id);
    if (s.pkg) q = q.where('retention_rules.scope', 'in', ['owner', `type:${s.pkg.type}`, `package:${s.pkg.id}`]);
    else if (s.type) q = q.where('retention_rules.type', '=', s.type);
    const rows = await q.orderBy('retention_rules.id').execute();
    return rows.map((r) => ({ id: r.id, owner: s.owner.name, type: r.type, package: r.package, rule: JSON.parse(r.rule) as RetentionRule, updated_at: r.updated_at }));
  }

  /**
   * What the rules would delete now in the scope (dry run), or — given `rule` — what that rule would delete if it
   * were saved for the scope (the preview before saving). Exactly what `run` deletes, given nothing changes.
   */
  async preview(actor: Actor, s: Scope, rule?: unknown): Promise<RetentionReport> {
    await this.allow(actor, s);
    return this.apply(actor, s, { dryRun: true, rule: rule === undefined ? undefined : parseRule(rule) });
  }

  /** Runs the rules of a scope now (as `actor`, who must administer it). */
  async run(actor: Actor, s: Scope, opts: { dryRun?: boolean } = {}): Promise<RetentionReport> {
    await this.allow(actor, s);
    return this.apply(actor, s, { dryRun: !!opts.dryRun });
  }

  /** Runs every owner's rules (the schedule, or `wharf retention run --all`), as the system. */
  async runAll(opts: { dryRun?: boolean } = {}): Promise<RetentionReport> {
    const total: RetentionReport = { dryRun: !!opts.dryRun, packages: 0, deleted: [], skipped: [] };
    const owners = await this.db.selectFrom('retention_rules').innerJoin('owners', 'owners.id', 'retention_rules.owner_id').selectAll('owners').distinct().orderBy('owners.id').execute();
    for (const owner of owners) {
      const r = await this.apply(systemActor, { owner }, { dryRun: !!opts.dryRun });
      total.packages += r.packages;
      total.deleted.push(...r.deleted);
      total.skipped.push(...r.skipped);
    }
    return total;
  }

  /**
   * The scheduled run: skipped when another node ran within the interval or is running now (the lease), as
   * garbage collection is (blobs/gc.ts scheduledCollection).
   */
  async scheduled(intervalMs: number): Promise<RetentionReport | null> {
    const info = await leaseInfo(this.db, RUN_LEASE);
    if (info?.finishedAt && Date.parse(info.finishedAt) > Date.now() - intervalMs * 0.9) return null;
    const lease = await acquireLease(this.db, RUN_LEASE, { ttlMs: 120_000 });
    if (!lease) return null;
    let ok = false;
    try {
      const r = await this.runAll();
      ok = true;
      return r;
    } finally {
      await lease.release(ok);
    }
  }

  /** Applies the rules (or `rule`) to each package of the scope. */
  private async apply(actor: Actor, s: Scope, opts: { dryRun: boolean; rule?: RetentionRule }): Promise<RetentionReport> {
    const report: RetentionReport = { dryRun: opts.dryRun, packages: 0, deleted: [], skipped: [] };
    const rules = await this.db.selectFrom('retention_rules').select(['scope', 'rule']).where('owner_id', '=', s.owner.id).execute();
    const byScope = new Map(rules.map((r) => [r.scope, JSON.parse(r.rule) as RetentionRule]));
    if (opts.rule) byScope.set(scopeKey(s), opts.rule);
    let q = this.db.selectFrom('packages').select(['id', 'type', 'name', 'revision']).where('owner_id', '=', s.owner.id).where('deleted_at', 'is', null);
    if (s.pkg) q = q.where('id', '=', s.pkg.id);
    else if (s.type) q = q.where('type', '=', s.type);
    const protectedTags = await this.db.selectFrom('protected_tags').select(['type', 'pattern']).where('owner_id', '=', s.owner.id).execute();
    for (const p of await q.orderBy('id').execute()) {
      const rule = byScope.get(`package:${p.id}`) ?? byScope.get(`type:${p.type}`) ?? byScope.get('owner');
      if (!rule) continue;
      report.packages++;
      const { versions, decisions } = await this.planFor(p.id, rule, protectedTags.filter((t) => t.type === p.type).map((t) => t.pattern));
      const doomed = decisions.filter((d) => d.action === 'delete');
      const name = (id: number) => versions.get(id)!;
      let revision = p.revision;
      // In batches, each one transaction: a version before what goes with it, so a batch cut short leaves no live
      // index without its manifests.
      for (let i = 0; i < doomed.length; i += BATCH) {
        const batch = doomed.slice(i, i + BATCH);
        if (!opts.dryRun) {
          try {
            await this.publisher.deleteVersions(p.id, batch.map((d) => ({ versionId: d.id, withVersion: d.withVersion, details: { retention: d.reason, ...(d.withVersion ? { with: name(d.withVersion).version } : {}) } })), actor, { expectRevision: revision });
            revision++;
          } catch (e) {
            if (e instanceof WharfError && (e.code === 'ECHANGED' || e.kind === 'NotFound')) {
              report.skipped.push(`${p.type}/${s.owner.name}/${p.name}`);
              break;
            }
            throw e;
          }
        }
        for (const d of batch) report.deleted.push({ owner: s.owner.name, type: p.type, package: p.name, version: d.version, tags: name(d.id).tags, reason: d.reason, ...(d.withVersion ? { with: name(d.withVersion).version } : {}) });
      }
    }
    return report;
  }

  /** The plan of one package: its live versions as the plan sees them, and the decisions. */
  private async planFor(packageId: number, rule: RetentionRule, protectedPatterns: string[]): Promise<{ versions: Map<number, PlanVersion>; decisions: Decision[] }> {
    const rows = await this.db.selectFrom('package_versions').select(['id', 'version', 'metadata', 'created_at', 'updated_at']).where('package_id', '=', packageId).where('deleted_at', 'is', null).execute();
    const tags = await this.db.selectFrom('package_tags').select(['name', 'version_id']).where('package_id', '=', packageId).execute();
    const ids = rows.map((r) => r.id);
    const subjects = new Map<number, string>();
    const lastDownload = new Map<number, string>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      for (const p of await this.db.selectFrom('package_properties').select(['ref_id', 'value']).where('ref_type', '=', 'version').where('name', '=', 'oci.subject').where('ref_id', 'in', chunk).execute()) subjects.set(p.ref_id, p.value);
      for (const d of await this.db.selectFrom('downloads').select(['version_id']).select((eb) => eb.fn.max('day').as('day')).where('version_id', 'in', chunk).groupBy('version_id').execute()) lastDownload.set(d.version_id, String(d.day));
    }
    const tagsOf = new Map<number, string[]>();
    for (const t of tags) {
      const list = tagsOf.get(t.version_id);
      if (list) list.push(t.name);
      else tagsOf.set(t.version_id, [t.name]);
    }
    const versions = new Map<number, PlanVersion>();
    for (const r of rows) {
      // An image index lists its manifests in its metadata (the OCI format's VersionMeta.manifests).
      let children: string[] = [];
      try {
        const m = JSON.parse(r.metadata) as { manifests?: { digest?: unknown }[] };
        if (Array.isArray(m?.manifests)) children = m.manifests.map((c) => c?.digest).filter((d): d is string => typeof d === 'string');
      } catch {
        // metadata is the format's own; what is not JSON lists nothing
      }
      versions.set(r.id, {
        id: r.id, version: r.version, writtenAt: r.updated_at > r.created_at ? r.updated_at : r.created_at,
        tags: tagsOf.get(r.id) ?? [], children, subject: subjects.get(r.id), lastDownload: lastDownload.get(r.id),
      });
    }
    return { versions, decisions: planPackage([...versions.values()], rule, protectedPatterns, Date.now()) };
  }

  // ---- protected tags ---------------------------------------------------------------------------------------

  /** Protects a tag pattern (`v*`, `latest`, `release-?`) of an owner's packages of one format (its admins only). */
  async protectTag(actor: Actor, owner: Owner, type: string, pattern: string): Promise<void> {
    if (!/^[A-Za-z0-9._*?-]{1,128}$/.test(pattern)) throw invalid(`invalid tag pattern "${pattern}": letters, digits, '.', '_', '-', and the wildcards * and ?`);
    await this.allow(actor, { owner, type });
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      await trx.insertInto('protected_tags').values({ owner_id: owner.id, type, pattern, created_at: nowIso() }).onConflict((oc) => oc.columns(['owner_id', 'type', 'pattern']).doNothing()).execute();
      await this.record(trx, 'tag.protect', actor, owner, `${type} tags ${pattern}`, { package_type: type, pattern });
    });
  }

  async unprotectTag(actor: Actor, owner: Owner, type: string, pattern: string): Promise<void> {
    await this.allow(actor, { owner, type });
    await this.db.transaction().execute(async (t) => {
      const trx = t as unknown as Db;
      const r = await trx.deleteFrom('protected_tags').where('owner_id', '=', owner.id).where('type', '=', type).where('pattern', '=', pattern).executeTakeFirst();
      if (!Number(r.numDeletedRows)) throw notFound(`${type} tags ${pattern} of ${owner.name} are not protected`);
      await this.record(trx, 'tag.unprotect', actor, owner, `${type} tags ${pattern}`, { package_type: type, pattern });
    });
  }

  async protectedTags(actor: Actor, owner: Owner): Promise<{ type: string; pattern: string; created_at: string }[]> {
    await this.allow(actor, { owner });
    return this.db.selectFrom('protected_tags').select(['type', 'pattern', 'created_at']).where('owner_id', '=', owner.id).orderBy('type').orderBy('pattern').execute();
  }
}
