// `wharf usage show OWNER`, `wharf usage recompute` (rebuilds every figure from scratch), and site admins' quotas:
// `wharf quota set OWNER --storage 10GiB --packages 100`, `wharf quota show OWNER`, `wharf quota clear OWNER`.
import { systemActor } from '../core/auth/actor.ts';
import { recomputeUsage } from '../core/usage-recount.ts';
import { formatSize, parseSize, type Quota } from '../core/usage.ts';
import type { Command } from './main.ts';
import { parse, table, UsageError } from './args.ts';

const limitText = (q: Quota) =>
  `storage ${q.storageBytes == null ? 'unlimited' : formatSize(q.storageBytes)}, packages ${q.packages ?? 'unlimited'} (${q.override ? 'set for this owner' : 'instance default'})`;

const show: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['OWNER']);
  const r = await (await open()).publisher.usage.report(systemActor, pos[0]!);
  out(`${r.owner.name}: ${formatSize(r.usage.bytes)} in ${r.usage.packages} packages, ${r.usage.versions} versions, ${r.usage.downloads} downloads`);
  out(`quota: ${limitText(r.quota)}`);
  for (const l of table(['TYPE', 'NAME', 'SIZE', 'VERSIONS', 'DOWNLOADS'], r.packages.map((p) => [p.type, p.name, formatSize(p.bytes), p.versions, p.downloads]))) out(l);
};

const recompute: Command = async (open, args, out) => {
  parse(args, {}, []);
  const core = await open();
  await recomputeUsage(core.db);
  out('storage usage recomputed from scratch for every owner and package');
};

/** `10GiB`, bytes, or `none` (back to the instance default). */
function limitOf(v: string | undefined, what: string, size: boolean): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'default' || v === 'none') return null;
  const n = size ? parseSize(v) : /^\d+$/.test(v) ? Number(v) : undefined;
  if (n === undefined) throw new UsageError(`--${what} must be ${size ? 'a size such as 10GiB or 500MB' : 'a number'}, or "default"`);
  return n;
}

const set: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { storage: { type: 'string' }, packages: { type: 'string' } }, ['OWNER']);
  if (values.storage === undefined && values.packages === undefined) throw new UsageError('give --storage and/or --packages');
  const q = { storageBytes: limitOf(values.storage, 'storage', true), packages: limitOf(values.packages, 'packages', false) };
  out(`${pos[0]}: ${limitText(await (await open()).publisher.usage.setQuotaAs(systemActor, pos[0]!, q))}`);
};

const quotaShow: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['OWNER']);
  const r = await (await open()).publisher.usage.report(systemActor, pos[0]!);
  out(`${r.owner.name}: ${limitText(r.quota)}; using ${formatSize(r.usage.bytes)} in ${r.usage.packages} packages`);
};

const clear: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['OWNER']);
  out(`${pos[0]}: ${limitText(await (await open()).publisher.usage.setQuotaAs(systemActor, pos[0]!, { storageBytes: null, packages: null }))}`);
};

export const usageCommands = {
  usage:
    '  wharf usage show OWNER   (bytes stored, packages, versions and downloads, per package; a blob counts once per owner)\n' +
    '  wharf usage recompute   (rebuilds every usage figure from scratch; they are kept up to date by every publish and delete)',
  verbs: { show, recompute },
};

export const quotaCommands = {
  usage:
    '  wharf quota set OWNER [--storage 10GiB] [--packages 100]   ("default" returns a limit to WHARF_QUOTA_STORAGE / WHARF_QUOTA_PACKAGES)\n' +
    '  wharf quota show OWNER\n' +
    '  wharf quota clear OWNER   (back to the instance defaults)',
  verbs: { set, show: quotaShow, clear },
};
