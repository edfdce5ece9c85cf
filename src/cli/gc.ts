import { collectGarbage } from '../core/blobs/gc.ts';
import { parseDuration } from '../core/auth/tokens.ts';
import type { Command } from './main.ts';
import { parse, UsageError } from './args.ts';

const run: Command = async (core, args, out) => {
  const { values } = parse(args, { 'dry-run': { type: 'boolean' }, grace: { type: 'string' } }, []);
  let graceMs: number | undefined;
  try {
    graceMs = values.grace ? parseDuration(values.grace) : undefined;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const r = await collectGarbage(core, { dryRun: !!values['dry-run'], graceMs });
  const mib = (r.freedBytes / 1024 / 1024).toFixed(1);
  out(`${r.dryRun ? 'would remove' : 'removed'} ${r.removedBlobs} blobs and ${r.removedTempFiles} abandoned temp files (${mib} MiB), purged ${r.purgedVersions} versions and ${r.purgedPackages} packages past their restore window, expired ${r.expiredUploads} uploads`);
};

export const gcCommands = {
  usage: '  wharf gc [--dry-run] [--grace 1h]   (blobs nothing refers to, deleted packages past 30 days, abandoned uploads and temp files)',
  verbs: { run },
};
