// Retention benchmark: a dry run and a real run over many versions, on SQLite (and PostgreSQL when
// WHARF_TEST_DATABASE_URL is set).
//
//   node --import tsx bench/retention.ts [--versions=100000] [--packages=100] [--keep=10]
//
// Versions are written straight into the tables (as many publishes would leave them: npm versions, one file each,
// a dist-tag on the newest), then one owner-wide rule "keep the newest K" is previewed (planning only) and run
// (each deletion its own soft delete with an audit entry and a webhook event, as in production).
import { systemActor } from '../src/core/auth/actor.ts';
import { loadConfig } from '../src/config.ts';
import { openCore } from '../src/core/core.ts';
import { createDatabase } from '../test/helpers/databases.ts';
import { tempDir } from '../test/helpers/wharf.ts';

const opt = (n: string, d: number) => Number(process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d);
const VERSIONS = opt('versions', 100_000);
const PACKAGES = opt('packages', 100);
const KEEP = opt('keep', 10);

async function bench(dialect: 'sqlite' | 'postgres') {
  const dataDir = tempDir('wharf-bench-retention-');
  const db = await createDatabase(dialect, dataDir);
  const core = await openCore(loadConfig({ WHARF_DATA: dataDir, WHARF_DATABASE_URL: db.url, WHARF_LOG_LEVEL: 'silent' }), undefined, { short: true });
  try {
    const owner = await core.identity.createUser(systemActor, { name: 'alice', password: null, email: 'alice@example.com' });
    const per = Math.ceil(VERSIONS / PACKAGES);
    const t0 = Date.now();
    const base = Date.now() - 365 * 864e5;
    for (let p = 0; p < PACKAGES; p++) {
      const iso = new Date(base).toISOString();
      const pkg = await core.db.insertInto('packages').values({ owner_id: owner.id, type: 'npm', name: `pkg${p}`, lower_name: `pkg${p}`, visibility: 'private', repository_id: null, inherit_access: 1, metadata: '{}', revision: 1, created_at: iso, updated_at: iso, deleted_at: null }).returning('id').executeTakeFirstOrThrow();
      for (let i = 0; i < per; i += 500) {
        const rows = [];
        for (let j = i; j < Math.min(per, i + 500); j++) {
          const at = new Date(base + j * 60_000).toISOString();
          rows.push({ package_id: pkg.id, version: `1.0.${j}`, lower_version: `1.0.${j}`, metadata: '{}', created_by: null, created_at: at, updated_at: at, deleted_at: null });
        }
        await core.db.insertInto('package_versions').values(rows).execute();
      }
      const newest = await core.db.selectFrom('package_versions').select('id').where('package_id', '=', pkg.id).orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
      await core.db.insertInto('package_tags').values({ package_id: pkg.id, name: 'latest', version_id: newest.id, updated_at: new Date().toISOString() }).execute();
    }
    const seeded = Date.now() - t0;
    const scope = { owner: (await core.identity.requireOwner('alice'))! };
    await core.retention.setRule(systemActor, scope, { keep_last: KEEP });
    const t1 = Date.now();
    const dry = await core.retention.run(systemActor, scope, { dryRun: true });
    const dryMs = Date.now() - t1;
    const t2 = Date.now();
    const run = await core.retention.run(systemActor, scope);
    const runMs = Date.now() - t2;
    console.log(`${dialect}: ${PACKAGES * per} versions in ${PACKAGES} packages (seeded in ${(seeded / 1000).toFixed(1)} s); rule keep_last=${KEEP}`);
    console.log(`  dry run: ${dry.deleted.length} to delete, ${(dryMs / 1000).toFixed(2)} s`);
    console.log(`  run:     ${run.deleted.length} deleted, ${(runMs / 1000).toFixed(1)} s (${(runMs / Math.max(1, run.deleted.length)).toFixed(2)} ms per deletion)`);
  } finally {
    await core.close();
    await db.drop();
  }
}

if (!process.argv.includes('--postgres-only')) await bench('sqlite');
if (process.env.WHARF_TEST_DATABASE_URL) await bench('postgres');
