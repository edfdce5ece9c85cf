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
  const would = (done: string, dry: string) => (r.dryRun ? dry : done);
  // In the order the collection runs; a dry run neither purges nor expires, so it cannot count what that would free.
  const lines = [
    `${would('purged', 'would purge')} ${r.purgedVersions} versions and ${r.purgedPackages} packages past their restore window`,
    r.dryRun ? 'abandoned uploads are not counted in a dry run' : `expired ${r.expiredUploads} abandoned uploads`,
    `${would('removed', 'would remove')} ${r.removedBlobs} blobs no version refers to, releasing ${r.releasedHolds} holds of repositories on them (layers pushed without a manifest, or named only by purged images)`,
    `${would('removed', 'would remove')} ${r.removedTempFiles} temp files a crashed process left`,
    `${would('freed', 'would free')} ${mib} MiB`,
  ];
  for (const l of lines) out(l);
};

export const gcCommands = {
  usage: '  wharf gc [--dry-run] [--grace 1h]   (blobs no version refers to once past the grace period, layers of abandoned pushes included; deleted packages past their restore window; abandoned uploads and temp files)',
  verbs: { run },
};
