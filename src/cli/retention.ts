// `wharf retention …` (rules, their preview and runs) and `wharf tag …` (protected tags, and moving one with an
// explicit override). The CLI acts as the system (it holds the database); core.retention and the publisher decide.
import { systemActor } from '../core/auth/actor.ts';
import type { Core } from '../core/core.ts';
import { notFound } from '../core/errors.ts';
import type { RetentionReport, Scope } from '../core/retention/retention.ts';
import type { Command, Out } from './main.ts';
import { packageType, target } from './packages.ts';
import { parse, table, UsageError } from './args.ts';

const RULE_OPTIONS = {
  'keep-last': { type: 'string' },
  'older-than': { type: 'string' },
  'untagged-older-than': { type: 'string' },
  'keep-pattern': { type: 'string' },
  'keep-downloaded': { type: 'string' },
} as const;

type RuleValues = { [K in keyof typeof RULE_OPTIONS]?: string };

/** The rule the options give, or undefined when none is given. */
function ruleOf(v: RuleValues): Record<string, unknown> | undefined {
  const num = (s: string | undefined, what: string) => {
    if (s === undefined) return undefined;
    const n = Number(s.replace(/d$/, ''));
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${what} needs a positive number (days, or a count), got "${s}"`);
    return n;
  };
  const rule: Record<string, unknown> = {
    keep_last: num(v['keep-last'], 'keep-last'),
    delete_older_than_days: num(v['older-than'], 'older-than'),
    delete_untagged_older_than_days: num(v['untagged-older-than'], 'untagged-older-than'),
    keep_pattern: v['keep-pattern'],
    keep_downloaded_within_days: num(v['keep-downloaded'], 'keep-downloaded'),
  };
  for (const k of Object.keys(rule)) if (rule[k] === undefined) delete rule[k];
  return Object.keys(rule).length ? rule : undefined;
}

/** OWNER [TYPE [NAME]] → the scope. */
async function scopeOf(core: Core, pos: string[]): Promise<Scope> {
  const owner = await core.identity.requireOwner(pos[0]);
  if (pos[1] === undefined) return { owner };
  const type = packageType(pos[1]);
  if (pos[2] === undefined) return { owner, type };
  const pkg = await core.packages.find(owner.name, type, pos[2]);
  if (!pkg) throw notFound(`no ${type} package ${owner.name}/${pos[2]}`);
  return { owner, pkg };
}

function printReport(r: RetentionReport, out: Out, note: Out) {
  const rows = r.deleted.map((d) => [d.type, `${d.owner}/${d.package}`, d.version, d.tags.join(',') || '', d.with ? `${d.reason}` : d.reason]);
  if (rows.length) for (const l of table(['TYPE', 'PACKAGE', 'VERSION', 'TAGS', 'WHY'], rows)) out(l);
  note(`${r.dryRun ? 'would delete' : 'deleted'} ${r.deleted.length} version${r.deleted.length === 1 ? '' : 's'} in ${r.packages} package${r.packages === 1 ? '' : 's'} with a rule${r.dryRun ? ' — nothing was changed (dry run)' : ' (restorable for the restore window)'}`);
  if (r.skipped.length) note(`changed while the run went through them, left for the next run: ${r.skipped.join(', ')}`);
}

const set: Command = async (open, args, out) => {
  const { values, pos } = parse(args, RULE_OPTIONS, ['OWNER', '[TYPE]', '[NAME]']);
  const rule = ruleOf(values);
  if (!rule) throw new UsageError('give the rule: --keep-last N, --older-than DAYS, --untagged-older-than DAYS, --keep-pattern REGEX, --keep-downloaded DAYS');
  const core = await open();
  out(JSON.stringify(await core.retention.setRule(systemActor, await scopeOf(core, pos), rule)));
};

const remove: Command = async (open, args) => {
  const { pos } = parse(args, {}, ['OWNER', '[TYPE]', '[NAME]']);
  const core = await open();
  await core.retention.removeRule(systemActor, await scopeOf(core, pos));
};

const list: Command = async (open, args, out, note) => {
  const { pos } = parse(args, {}, ['OWNER', '[TYPE]', '[NAME]']);
  const core = await open();
  const rules = await core.retention.listRules(systemActor, await scopeOf(core, pos));
  if (!rules.length) return note('no retention rules');
  for (const l of table(['SCOPE', 'RULE', 'UPDATED'], rules.map((r) => [r.package ? `${r.type} ${r.owner}/${r.package}` : r.type ? `${r.type} packages of ${r.owner}` : `all of ${r.owner}`, JSON.stringify(r.rule), r.updated_at]))) out(l);
};

const preview: Command = async (open, args, out, note) => {
  const { values, pos } = parse(args, RULE_OPTIONS, ['OWNER', '[TYPE]', '[NAME]']);
  const rule = ruleOf(values);
  const core = await open();
  printReport(await core.retention.preview(systemActor, await scopeOf(core, pos), rule), out, note);
};

const run: Command = async (open, args, out, note) => {
  const { values, pos } = parse(args, { 'dry-run': { type: 'boolean' } }, ['[OWNER]', '[TYPE]', '[NAME]']);
  const core = await open();
  const dryRun = !!values['dry-run'];
  const r = pos.length ? await core.retention.run(systemActor, await scopeOf(core, pos), { dryRun }) : await core.retention.runAll({ dryRun });
  printReport(r, out, note);
};

export const retentionCommands = {
  usage:
    '  wharf retention set OWNER [TYPE [NAME]] [--keep-last N] [--older-than DAYS] [--untagged-older-than DAYS] [--keep-pattern REGEX] [--keep-downloaded DAYS]\n' +
    '      (the rule of an owner, one format of it, or one package: the most specific applies; --keep-last alone deletes the rest, with an age limit it is a floor)\n' +
    '  wharf retention list OWNER [TYPE [NAME]]\n' +
    '  wharf retention preview OWNER [TYPE [NAME]] [rule options]   (what the saved rules, or the rule given, would delete now, and why)\n' +
    '  wharf retention run [OWNER [TYPE [NAME]]] [--dry-run]   (every owner\'s rules without OWNER, as the server does every WHARF_RETENTION_INTERVAL_SECONDS)\n' +
    '  wharf retention remove OWNER [TYPE [NAME]]',
  verbs: { set, list, preview, run, remove },
};

const protect: Command = async (open, args) => {
  const { pos } = parse(args, {}, ['OWNER', 'TYPE', 'PATTERN']);
  const core = await open();
  await core.retention.protectTag(systemActor, await core.identity.requireOwner(pos[0]), packageType(pos[1]), pos[2]);
};

const unprotect: Command = async (open, args) => {
  const { pos } = parse(args, {}, ['OWNER', 'TYPE', 'PATTERN']);
  const core = await open();
  await core.retention.unprotectTag(systemActor, await core.identity.requireOwner(pos[0]), packageType(pos[1]), pos[2]);
};

const protectedList: Command = async (open, args, out, note) => {
  const { pos } = parse(args, {}, ['OWNER']);
  const core = await open();
  const rows = await core.retention.protectedTags(systemActor, await core.identity.requireOwner(pos[0]));
  if (!rows.length) return note('no protected tags');
  for (const l of table(['TYPE', 'PATTERN', 'SINCE'], rows.map((r) => [r.type, r.pattern, r.created_at]))) out(l);
};

const setTag: Command = async (open, args) => {
  const { values, pos } = parse(args, { override: { type: 'boolean' } }, ['TYPE', 'OWNER/NAME', 'TAG', 'VERSION']);
  const t = target(pos[0], pos[1]);
  const core = await open();
  const pkg = await core.packages.find(t.owner, t.type, t.name);
  if (!pkg) throw notFound(`no ${t.type} package ${t.owner}/${t.name}`);
  await core.publisher.setTag(pkg.id, pos[2], pos[3], systemActor, { override: !!values.override });
};

const removeTag: Command = async (open, args) => {
  const { values, pos } = parse(args, { override: { type: 'boolean' } }, ['TYPE', 'OWNER/NAME', 'TAG']);
  const t = target(pos[0], pos[1]);
  const core = await open();
  const pkg = await core.packages.find(t.owner, t.type, t.name);
  if (!pkg) throw notFound(`no ${t.type} package ${t.owner}/${t.name}`);
  await core.publisher.removeTag(pkg.id, pos[2], systemActor, { override: !!values.override });
};

export const tagCommands = {
  usage:
    '  wharf tag protect OWNER TYPE PATTERN   (container tags or npm dist-tags matching PATTERN — `v*`, `latest` — cannot be moved or removed once set)\n' +
    '  wharf tag unprotect OWNER TYPE PATTERN\n' +
    '  wharf tag protected OWNER\n' +
    '  wharf tag set TYPE OWNER/NAME TAG VERSION [--override]   (--override: move a protected tag)\n' +
    '  wharf tag rm TYPE OWNER/NAME TAG [--override]',
  verbs: { protect, unprotect, protected: protectedList, set: setTag, rm: removeTag },
};
