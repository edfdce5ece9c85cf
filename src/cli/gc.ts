// `wharf gc [--dry-run]`: one garbage collection now (the server also runs one every WHARF_GC_INTERVAL_SECONDS).
// A dry run writes nothing: it says, in the conditional, what each step would do now and lists what it would remove.
import { collectGarbage, type GcItem } from '../core/blobs/gc.ts';
import { parseDuration } from '../core/auth/tokens.ts';
import type { Command } from './main.ts';
import { parse, UsageError } from './args.ts';

/** 4.2 MB, 512 bytes (decimal units, as du -h --si and most download pages count them). */
export function bytes(n: number): string {
  if (n < 1000) return `${n} byte${n === 1 ? '' : 's'}`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  for (; v >= 1000 && i < units.length - 1; i++) v /= 1000;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const run: Command = async (open, args, out) => {
  const { values } = parse(args, { 'dry-run': { type: 'boolean' }, grace: { type: 'string' } }, []);
  let graceMs: number | undefined;
  try {
    graceMs = values.grace ? parseDuration(values.grace) : undefined;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const dryRun = !!values['dry-run'];
  const items: GcItem[] = [];
  const core = await open();
  const r = await collectGarbage(core, { dryRun, graceMs, each: dryRun ? (i) => items.push(i) : undefined });
  const would = (done: string, dry: string) => (dryRun ? `would ${dry}` : done);
  const of = <S extends GcItem['step']>(step: S) => items.filter((i): i is Extract<GcItem, { step: S }> => i.step === step);
  const list = (lines: string[]) => {
    for (const l of lines) out(`  ${l}`);
  };
  const name = (i: Extract<GcItem, { step: 'purge' }>) => `${i.type} ${i.type === 'npm' ? '@' : ''}${i.owner}/${i.name}`;

  // In the order the collection runs.
  out(`${would('purged', 'purge')} ${count(r.purgedVersions, 'version')} and ${count(r.purgedPackages, 'package')} deleted more than ${core.config.restoreDays} days ago (past their restore window)`);
  list(of('purge').map((i) => (i.what === 'package' ? `${name(i)} (the whole package), deleted ${i.deletedAt}` : `${name(i)} ${i.version}, deleted ${i.deletedAt}`)));
  const uploads = of('upload');
  const sum = (l: { bytes: number }[]) => (l.length ? ` (${bytes(l.reduce((a, i) => a + i.bytes, 0))})` : '');
  out(`${would('expired', 'expire')} ${count(r.expiredUploads, 'abandoned upload')}${sum(uploads)}`);
  list(uploads.map((u) => `upload ${u.id}, ${bytes(u.bytes)}, idle since ${u.idleSince}`));
  const blobs = of('blob');
  out(
    `${would('removed', 'remove')} ${count(r.removedBlobs, 'blob')} no version refers to${sum(blobs)}, ` +
      `${would('releasing', 'release')} ${count(r.releasedHolds, 'hold')} of repositories on them (layers pushed without a manifest, or named only by versions past their restore window)`,
  );
  list(blobs.map((b) => `${b.digest}, ${bytes(b.bytes)}${b.holds ? `, held by ${count(b.holds, 'repository', 'repositories')}` : ''}`));
  out(`${would('removed', 'remove')} ${count(r.removedTempFiles, 'temp file')} a crashed process left`);
  out(`${would('freed', 'free')} ${bytes(r.freedBytes)} in all${dryRun ? ' — nothing was changed (dry run)' : ''}`);
};

export const gcCommands = {
  usage:
    '  wharf gc [--dry-run] [--grace 1h]   (blobs no version refers to once past the grace period, layers of abandoned pushes included; deleted packages past their restore window; abandoned uploads and temp files)\n' +
    '      (--dry-run: what it would do now, and what it would remove, changing nothing)',
  verbs: { run },
};
