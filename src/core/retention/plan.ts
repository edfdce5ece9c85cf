// What a retention rule keeps and deletes in one package: a pure function over the package's live versions, so
// the dry run and the real run decide from the same code. Safe by construction: a rule judges only top-level
// versions (those no live index lists and no live subject owns, plus anything tagged); everything a kept version
// needs stays with it — an index's platform manifests, and the referrers (signatures, SBOMs, attestations) of
// whatever is kept — and what a deleted version alone needed goes with it, named as deleted "with" it.
import { z } from 'zod';
import { globMatches } from '../publish.ts';
import { invalid } from '../errors.ts';

/** A rule as stored and as the REST API, the CLI and the settings page give it. */
export const RetentionRuleSchema = z
  .object({
    /** Keep the newest N top-level versions. Alone it deletes the rest; with an age limit it is a floor. */
    keep_last: z.number().int().min(1).max(100_000).optional(),
    /** Delete versions last written more than D days ago. */
    delete_older_than_days: z.number().positive().max(36_500).optional(),
    /** Delete untagged versions (container manifests no tag names) last written more than D days ago. */
    delete_untagged_older_than_days: z.number().positive().max(36_500).optional(),
    /** Keep versions whose version string or one of whose tags matches this regular expression. */
    keep_pattern: z.string().min(1).max(200).optional(),
    /** Keep versions downloaded in the last D days. */
    keep_downloaded_within_days: z.number().positive().max(36_500).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.keep_last === undefined && r.delete_older_than_days === undefined && r.delete_untagged_older_than_days === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a rule needs keep_last, delete_older_than_days or delete_untagged_older_than_days (else it deletes nothing)' });
    }
    if (r.keep_pattern !== undefined) {
      try {
        new RegExp(r.keep_pattern);
        const risky = riskyPattern(r.keep_pattern);
        if (risky) ctx.addIssue({ code: 'custom', path: ['keep_pattern'], message: risky });
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['keep_pattern'], message: `not a regular expression: ${(e as Error).message}` });
      }
    }
  });
export type RetentionRule = z.infer<typeof RetentionRuleSchema>;

/**
 * Why a keep pattern could take exponential time (it runs on the server, against every version, on a schedule),
 * or null: a backreference, or a group repeated without bound (`*`, `+`, `{n,}`) that itself holds a quantifier
 * or an alternation (`(a+)+`, `(a|a)*`). Patterns such as `^v?\d+\.\d+\.\d+$` have neither. A repeated group
 * that begins or ends with a `.` or `-` none of its other pieces can match (`(\.\d+)*`, `(\d+\.)+`, `(-[a-z0-9]+)*`)
 * is fine: each repetition is delimited by a separator, so there is one way to match.
 */
const PIECE = String.raw`(?:\\[dw]|[A-Za-z0-9]|\[(?:[A-Za-z0-9](?:-[A-Za-z0-9])?)+\])(?:[*+?]|\{\d+(?:,\d*)?\})?`;
/** A group body of pieces that cannot match a separator (`\.`, `\-`, `-`) it starts or ends with. */
const SEPARATED = new RegExp(String.raw`^(?:(?:\\\.|\\-|-)(?:${PIECE})+|(?:${PIECE})+(?:\\\.|\\-|-))$`);

export function riskyPattern(p: string): string | null {
  if (/\\[1-9]|\\k</.test(p)) return 'backreferences are not allowed in a keep pattern';
  const stack: { risky: boolean; start: number }[] = [];
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // A character class: skip to its end (a quantifier or `|` inside means itself).
      for (i++; i < p.length && p[i] !== ']'; i++) if (p[i] === '\\') i++;
      continue;
    }
    if (c === '(') stack.push({ risky: false, start: i + 1 });
    else if ((c === '*' || c === '+' || c === '?' || c === '{' || c === '|') && stack.length) stack[stack.length - 1].risky = true;
    if (c === ')') {
      const g = stack.pop();
      const next = p.slice(i + 1);
      const unbounded = /^(\*|\+|\{\d+,\})/.test(next);
      if (g?.risky && unbounded && !SEPARATED.test(p.slice(g.start, i).replace(/^\?:/, ''))) return 'a repeated group holding a quantifier or an alternation (such as (a+)+) is not allowed in a keep pattern: it can take exponential time';
      if (g && stack.length && (g.risky || /^[*+?{]/.test(next))) stack[stack.length - 1].risky = true;
    }
  }
  return null;
}

/** Parses a rule from untrusted input (Invalid, with the first problem, when it is not one). */
export function parseRule(input: unknown): RetentionRule {
  const r = RetentionRuleSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    throw invalid(`invalid retention rule: ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  }
  return r.data;
}

/** A live version as the plan sees it. */
export interface PlanVersion {
  id: number;
  version: string;
  /** When it was last written (created, or a SNAPSHOT deployed again): ISO. */
  writtenAt: string;
  tags: string[];
  /** The versions (by version string) this one lists: an image index's manifests. */
  children: string[];
  /** The version this one refers to (an OCI `subject`). */
  subject?: string;
  /** The last day (YYYY-MM-DD) it was downloaded. */
  lastDownload?: string;
}

export interface Decision {
  id: number;
  version: string;
  action: 'keep' | 'delete';
  reason: string;
  /** For a version deleted along with another: that version's id (restoring it restores this one). */
  withVersion?: number;
}

/** Cosign's tag scheme (`sha256-<hex>.sig`, `.att`, `.sbom`): an attachment of that digest, not a tag of its own. */
const COSIGN_TAG = /^sha256-([0-9a-f]{64})\.(sig|att|sbom)$/;

/** The subject a cosign-scheme tag attaches a version to, if it is one. */
export function attachedBy(tag: string): string | undefined {
  const m = COSIGN_TAG.exec(tag);
  return m ? `sha256:${m[1]}` : undefined;
}

/**
 * Decides each live version of one package. Roots are judged by the rule (first keep reason wins over any delete
 * reason); then everything a kept version lists or is referred to by is kept; the rest is deleted, each dependent
 * with the deleted version that took it. The result is ordered for deletion: a version before what goes with it.
 */
export function planPackage(versions: PlanVersion[], rule: RetentionRule, protectedPatterns: string[], nowMs: number): Decision[] {
  const byName = new Map(versions.map((v) => [v.version, v]));
  const ownTags = (v: PlanVersion) => v.tags.filter((t) => !attachedBy(t));
  const subjectOf = (v: PlanVersion): PlanVersion | undefined => {
    const s = v.subject ?? v.tags.map(attachedBy).find((d) => d !== undefined);
    const found = s !== undefined ? byName.get(s) : undefined;
    return found && found !== v ? found : undefined;
  };
  const listed = new Set<PlanVersion>();
  const referrers = new Map<PlanVersion, PlanVersion[]>();
  for (const v of versions) {
    for (const c of v.children) {
      const child = byName.get(c);
      if (child && child !== v) listed.add(child);
    }
    const s = subjectOf(v);
    if (s) {
      const list = referrers.get(s);
      if (list) list.push(v);
      else referrers.set(s, [v]);
    }
  }
  // Judged by the rule: what nothing else holds, and anything tagged (a tag is someone's handle on it).
  const roots = versions
    .filter((v) => ownTags(v).length > 0 || (!listed.has(v) && !subjectOf(v)))
    .sort((a, b) => (a.writtenAt < b.writtenAt ? 1 : a.writtenAt > b.writtenAt ? -1 : b.id - a.id));
  const pattern = rule.keep_pattern !== undefined ? new RegExp(rule.keep_pattern) : undefined;
  const day = (days: number) => new Date(nowMs - days * 864e5).toISOString();
  const ageLimited = rule.delete_older_than_days !== undefined || rule.delete_untagged_older_than_days !== undefined;
  const verdict = new Map<PlanVersion, { keep: boolean; reason: string }>();
  roots.forEach((v, i) => {
    const tags = ownTags(v);
    const keep = (reason: string) => verdict.set(v, { keep: true, reason });
    const del = (reason: string) => verdict.set(v, { keep: false, reason });
    const prot = tags.find((t) => protectedPatterns.some((p) => globMatches(p, t)));
    if (tags.includes('latest')) return keep('tagged latest');
    if (prot) return keep(`protected tag ${prot}`);
    const matching = pattern && [v.version, ...tags].find((s) => pattern.test(s));
    if (matching) return keep(`${matching} matches the keep pattern`);
    if (rule.keep_downloaded_within_days !== undefined && v.lastDownload && v.lastDownload >= day(rule.keep_downloaded_within_days).slice(0, 10)) return keep(`downloaded on ${v.lastDownload}`);
    if (rule.keep_last !== undefined && i < rule.keep_last) return keep(`among the newest ${rule.keep_last}`);
    const written = v.writtenAt.slice(0, 10);
    if (rule.delete_older_than_days !== undefined && v.writtenAt < day(rule.delete_older_than_days)) return del(`older than ${rule.delete_older_than_days} days (written ${written})`);
    if (rule.delete_untagged_older_than_days !== undefined && !tags.length && v.writtenAt < day(rule.delete_untagged_older_than_days)) return del(`untagged, older than ${rule.delete_untagged_older_than_days} days (written ${written})`);
    if (!ageLimited && rule.keep_last !== undefined) return del(`not among the newest ${rule.keep_last}`);
    keep('no delete condition applies');
  });
  // Whatever a kept version needs is kept: what it lists, and what refers to it, transitively.
  const kept = new Map<PlanVersion, string>();
  const queue: PlanVersion[] = [];
  for (const [v, d] of verdict) if (d.keep) (kept.set(v, d.reason), queue.push(v));
  for (let qi = 0; qi < queue.length; qi++) {
    const v = queue[qi];
    const needs = [...v.children.map((c) => byName.get(c)).filter((c): c is PlanVersion => !!c), ...(referrers.get(v) ?? [])];
    for (const n of needs) {
      if (kept.has(n)) continue;
      kept.set(n, v.children.includes(n.version) ? `listed by kept index ${v.version}` : `refers to kept ${v.version}`);
      queue.push(n);
    }
  }
  // The rest goes: each deleted root first, then what goes with it (breadth first), so a run cut short never
  // leaves a live index without its manifests or a live image whose referrers are gone.
  const out: Decision[] = [];
  const placed = new Set<PlanVersion>();
  for (const v of roots) {
    if (kept.has(v) || placed.has(v)) continue;
    placed.add(v);
    out.push({ id: v.id, version: v.version, action: 'delete', reason: verdict.get(v)!.reason });
    const q = [v];
    for (let qi = 0; qi < q.length; qi++) {
      const p = q[qi];
      const deps = [...p.children.map((c) => byName.get(c)).filter((c): c is PlanVersion => !!c), ...(referrers.get(p) ?? [])];
      for (const d of deps) {
        if (kept.has(d) || placed.has(d)) continue;
        placed.add(d);
        out.push({ id: d.id, version: d.version, action: 'delete', reason: p.children.includes(d.version) ? `listed only by deleted index ${p.version}` : `refers to deleted ${p.version}`, withVersion: p.id });
        q.push(d);
      }
    }
  }
  for (const v of versions) {
    if (kept.has(v)) out.push({ id: v.id, version: v.version, action: 'keep', reason: kept.get(v)! });
    else if (!placed.has(v)) out.push({ id: v.id, version: v.version, action: 'keep', reason: 'held by nothing the rule judges' });
  }
  return out;
}
