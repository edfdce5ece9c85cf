// Storage usage counted from scratch: what the incremental figures kept by the publish verbs (usage.ts) must equal.
// Run by the migration that adds the usage tables and by `wharf usage recompute`. Takes any Kysely so the migration,
// which sees no typed schema, can call it.
import { type Kysely, sql } from 'kysely';

/**
 * Rebuilds every usage row in one transaction. What counts: the files of live versions of live packages (a deleted
 * version or package holds nothing until restored); a blob counts once per package and once per owner.
 */
export async function recomputeUsage(db: Kysely<any>, opts: { inTransaction?: boolean } = {}): Promise<void> {
  // A migration runs inside the migrator's transaction already.
  const inTransaction = (fn: (trx: Kysely<any>) => Promise<void>) => (opts.inTransaction || db.isTransaction ? fn(db) : db.transaction().execute(fn));
  await inTransaction(async (trx) => {
    for (const t of ['usage_package_blobs', 'usage_owner_blobs', 'usage_packages', 'usage_owners']) await trx.deleteFrom(t).execute();
    await sql`INSERT INTO usage_package_blobs (package_id, owner_id, digest, size, refs)
      SELECT p.id, p.owner_id, f.blob_digest, MAX(f.size), COUNT(*)
      FROM package_files f JOIN package_versions v ON v.id = f.version_id JOIN packages p ON p.id = v.package_id
      WHERE v.deleted_at IS NULL AND p.deleted_at IS NULL
      GROUP BY p.id, p.owner_id, f.blob_digest`.execute(trx);
    await sql`INSERT INTO usage_owner_blobs (owner_id, digest, size, refs)
      SELECT owner_id, digest, MAX(size), COUNT(*) FROM usage_package_blobs GROUP BY owner_id, digest`.execute(trx);
    await sql`INSERT INTO usage_packages (package_id, owner_id, bytes, versions)
      SELECT p.id, p.owner_id,
        COALESCE((SELECT SUM(b.size) FROM usage_package_blobs b WHERE b.package_id = p.id), 0),
        (SELECT COUNT(*) FROM package_versions v WHERE v.package_id = p.id AND v.deleted_at IS NULL)
      FROM packages p WHERE p.deleted_at IS NULL`.execute(trx);
    await sql`INSERT INTO usage_owners (owner_id, bytes, packages, versions)
      SELECT o.id,
        COALESCE((SELECT SUM(b.size) FROM usage_owner_blobs b WHERE b.owner_id = o.id), 0),
        (SELECT COUNT(*) FROM usage_packages u WHERE u.owner_id = o.id),
        COALESCE((SELECT SUM(u.versions) FROM usage_packages u WHERE u.owner_id = o.id), 0)
      FROM owners o`.execute(trx);
  });
}
