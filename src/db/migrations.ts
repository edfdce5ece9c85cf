// Every schema change, in order. One set for SQLite and PostgreSQL: only the id column type differs.
import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import { recomputeUsage } from '../core/usage-recount.ts';

type Dialect = 'sqlite' | 'postgres';

function migrations(dialect: Dialect): Record<string, Migration> {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const big = 'bigint';
  return {
    '0001-core': {
      async up(db: Kysely<any>) {
        const withId = (name: string) =>
          db.schema.createTable(name).addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()));

        await withId('owners')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('lower_name', 'text', (c) => c.notNull().unique())
          .addColumn('email', 'text')
          .addColumn('password_hash', 'text')
          .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema.createTable('org_members')
          .addColumn('org_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('user_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('org_members_pk', ['org_id', 'user_id'])
          .execute();

        await withId('repositories')
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('lower_name', 'text', (c) => c.notNull())
          .addColumn('visibility', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('repositories_owner_name', ['owner_id', 'lower_name'])
          .execute();

        await db.schema.createTable('repo_collaborators')
          .addColumn('repository_id', big, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
          .addColumn('user_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('repo_collaborators_pk', ['repository_id', 'user_id'])
          .execute();

        await withId('tokens')
          .addColumn('user_id', big, (c) => c.references('owners.id').onDelete('cascade'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('token_prefix', 'text', (c) => c.notNull())
          .addColumn('scopes', 'text', (c) => c.notNull())
          .addColumn('repository_id', big, (c) => c.references('repositories.id').onDelete('cascade'))
          .addColumn('expires_at', 'text')
          .addColumn('revoked_at', 'text')
          .addColumn('last_used_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await withId('packages')
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('lower_name', 'text', (c) => c.notNull())
          .addColumn('visibility', 'text', (c) => c.notNull())
          .addColumn('repository_id', big, (c) => c.references('repositories.id').onDelete('set null'))
          .addColumn('inherit_access', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('deleted_at', 'text')
          .addUniqueConstraint('packages_owner_type_name', ['owner_id', 'type', 'lower_name'])
          .execute();
        await db.schema.createIndex('packages_repository').on('packages').column('repository_id').execute();

        await withId('package_versions')
          .addColumn('package_id', big, (c) => c.notNull().references('packages.id').onDelete('cascade'))
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('lower_version', 'text', (c) => c.notNull())
          .addColumn('metadata', 'text', (c) => c.notNull())
          .addColumn('created_by', big, (c) => c.references('owners.id').onDelete('set null'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('deleted_at', 'text')
          .addUniqueConstraint('package_versions_package_version', ['package_id', 'lower_version'])
          .execute();

        await db.schema.createTable('blobs')
          .addColumn('digest', 'text', (c) => c.primaryKey())
          .addColumn('size', big, (c) => c.notNull())
          .addColumn('sha1', 'text')
          .addColumn('sha512', 'text')
          .addColumn('md5', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await withId('package_files')
          .addColumn('version_id', big, (c) => c.notNull().references('package_versions.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('lower_name', 'text', (c) => c.notNull())
          .addColumn('blob_digest', 'text', (c) => c.notNull().references('blobs.digest'))
          .addColumn('size', big, (c) => c.notNull())
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('is_primary', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('package_files_version_name', ['version_id', 'lower_name'])
          .execute();
        await db.schema.createIndex('package_files_blob').on('package_files').column('blob_digest').execute();

        await db.schema.createTable('package_tags')
          .addColumn('package_id', big, (c) => c.notNull().references('packages.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version_id', big, (c) => c.notNull().references('package_versions.id').onDelete('cascade'))
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('package_tags_pk', ['package_id', 'name'])
          .execute();

        await withId('package_properties')
          .addColumn('ref_type', 'text', (c) => c.notNull())
          .addColumn('ref_id', big, (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('package_properties_ref').on('package_properties').columns(['ref_type', 'ref_id', 'name']).execute();
        await db.schema.createIndex('package_properties_value').on('package_properties').columns(['name', 'value']).execute();

        await db.schema.createTable('package_access')
          .addColumn('package_id', big, (c) => c.notNull().references('packages.id').onDelete('cascade'))
          .addColumn('user_id', big, (c) => c.references('owners.id').onDelete('cascade'))
          .addColumn('repository_id', big, (c) => c.references('repositories.id').onDelete('cascade'))
          .addColumn('role', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('package_access_user').on('package_access').columns(['package_id', 'user_id']).unique().where(sql.ref('user_id'), 'is not', null).execute();
        await db.schema.createIndex('package_access_repo').on('package_access').columns(['package_id', 'repository_id']).unique().where(sql.ref('repository_id'), 'is not', null).execute();

        await db.schema.createTable('downloads')
          .addColumn('version_id', big, (c) => c.notNull().references('package_versions.id').onDelete('cascade'))
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('count', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('downloads_pk', ['version_id', 'day'])
          .execute();
      },
    },
    '0002-uploads-and-keys': {
      async up(db: Kysely<any>) {
        // Resumable blob uploads (OCI): the bytes live in the blob store's uploads folder, the session here.
        await db.schema.createTable('upload_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('package_id', big, (c) => c.notNull().references('packages.id').onDelete('cascade'))
          .addColumn('size', big, (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        // Keys Wharf generates to sign short-lived registry tokens; shared by every node through the database.
        await db.schema.createTable('signing_keys')
          .addColumn('kid', 'text', (c) => c.primaryKey())
          .addColumn('algorithm', 'text', (c) => c.notNull())
          .addColumn('private_jwk', 'text', (c) => c.notNull())
          .addColumn('public_jwk', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0003-webhooks': {
      async up(db: Kysely<any>) {
        const withId = (name: string) =>
          db.schema.createTable(name).addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()));
        // A hook sits on an owner (user or org) or on a repository.
        await withId('webhooks')
          .addColumn('owner_id', big, (c) => c.references('owners.id').onDelete('cascade'))
          .addColumn('repository_id', big, (c) => c.references('repositories.id').onDelete('cascade'))
          .addColumn('url', 'text', (c) => c.notNull())
          .addColumn('secret', 'text')
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('events', 'text', (c) => c.notNull())
          .addColumn('active', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        // The durable delivery queue and log: a row per delivery (its id is X-GitHub-Delivery, kept by retries).
        await db.schema.createTable('webhook_deliveries')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('hook_id', big, (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
          .addColumn('event', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'text')
          .addColumn('claimed_until', 'text')
          .addColumn('response_status', 'integer')
          .addColumn('response_body', 'text')
          .addColumn('error', 'text')
          .addColumn('duration_ms', 'integer')
          .addColumn('redelivery', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('delivered_at', 'text')
          .execute();
        await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
        await db.schema.createIndex('webhook_deliveries_hook').on('webhook_deliveries').columns(['hook_id', 'created_at']).execute();
      },
    },
    '0005-signing': {
      async up(db: Kysely<any>) {
        const withId = (name: string) =>
          db.schema.createTable(name).addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()));
        // Public keys trusted to sign an owner's images (package_name null) or one image.
        await withId('trusted_keys')
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('package_name', 'text')
          .addColumn('public_pem', 'text', (c) => c.notNull())
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        // "Require signed images" for an owner or one image.
        await withId('signing_policies')
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('package_name', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0006-sessions': {
      async up(db: Kysely<any>) {
        // Web UI sign-ins. The cookie holds a random secret; only its sha256 is stored here.
        await db.schema.createTable('sessions')
          .addColumn('id_hash', 'text', (c) => c.primaryKey())
          .addColumn('user_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
      },
    },
    '0009-webhook-allowlist': {
      async up(db: Kysely<any>) {
        // Private targets a site admin allowed webhooks to reach: for every owner (owner_id null) or one owner's hooks.
        await db.schema.createTable('webhook_allowlist')
          .addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('owner_id', big, (c) => c.references('owners.id').onDelete('cascade'))
          .addColumn('pattern', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('webhook_allowlist_owner').on('webhook_allowlist').columns(['owner_id', 'pattern']).execute();
        // Whether a delivery's response came from a private address (1), a public one (0), or is from before this
        // was recorded (null: treated as private, so its body is shown to site admins only).
        await db.schema.alterTable('webhook_deliveries').addColumn('target_private', 'integer').execute();
      },
    },
    '0010-login-throttle': {
      async up(db: Kysely<any>) {
        // Failed sign-ins per account ('u:NAME') and per client address ('a:ADDRESS'), shared by every node.
        await db.schema.createTable('login_failures')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .addColumn('last_failure_at', 'text', (c) => c.notNull())
          .addColumn('locked_until', 'text')
          .execute();
        await db.schema.createIndex('login_failures_last').on('login_failures').column('last_failure_at').execute();
        // A suspended user signs in with nothing (password, token, session) until unsuspended.
        await db.schema.alterTable('owners').addColumn('suspended_at', 'text').execute();
      },
    },
    '0011-audit-log': {
      async up(db: Kysely<any>) {
        // The audit log: no foreign keys, so entries survive the deletion of what they name (names are copied).
        await db.schema.createTable('audit_log')
          .addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('actor_id', big)
          .addColumn('actor_name', 'text')
          .addColumn('credential', 'text', (c) => c.notNull())
          .addColumn('token_id', big)
          .addColumn('client_ip', 'text')
          .addColumn('owner_id', big)
          .addColumn('owner_name', 'text')
          .addColumn('owner_kind', 'text')
          .addColumn('user_id', big)
          .addColumn('user_name', 'text')
          .addColumn('repository_id', big)
          .addColumn('repository_name', 'text')
          .addColumn('package_id', big)
          .addColumn('target', 'text')
          .addColumn('details', 'text', (c) => c.notNull())
          .execute();
        // An org's or user's log, what one actor did, and what was done to one user: each newest first by id.
        await db.schema.createIndex('audit_log_owner').on('audit_log').columns(['owner_id', 'id']).execute();
        await db.schema.createIndex('audit_log_actor').on('audit_log').columns(['actor_id', 'id']).execute();
        await db.schema.createIndex('audit_log_user').on('audit_log').columns(['user_id', 'id']).execute();
      },
    },
    '0012-fleet-jobs': {
      async up(db: Kysely<any>) {
        // Background jobs on several nodes (src/core/jobs/leases.ts): one row per job only one node may run at a
        // time (garbage collection), held until `expires_at` and renewed while the job runs, so a dead node's lease
        // lapses; `finished_at` lets a scheduled run skip when another node has just done the job.
        await db.schema.createTable('job_leases')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('finished_at', 'text')
          .execute();
        // When each blob was last written (committed, or mounted): the fence between a node committing content and
        // a collection removing it (src/core/blobs/fence.ts). No foreign key: written before the `blobs` row.
        await db.schema.createTable('blob_writes')
          .addColumn('digest', 'text', (c) => c.primaryKey())
          .addColumn('written_at', 'text', (c) => c.notNull())
          .execute();
        // Which node holds a delivery's claim: its final update applies only while the claim is still its own.
        await db.schema.alterTable('webhook_deliveries').addColumn('claimed_by', 'text').execute();
      },
    },
    '0013-fine-grained-tokens': {
      async up(db: Kysely<any>) {
        // What a fine-grained personal token is limited to: one row per resource it names (src/core/auth/selection.ts).
        // A token with rows reaches only those; a token without rows is a classic one. Only `token_id` is a foreign
        // key: a deleted owner, repository or package must never cascade a row away (that would widen the token),
        // and ids are never reused, so a row naming something gone matches nothing.
        await db.schema.createTable('token_resources')
          .addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('token_id', big, (c) => c.notNull().references('tokens.id').onDelete('cascade'))
          .addColumn('owner_id', big, (c) => c.notNull())
          .addColumn('repository_id', big)
          .addColumn('package_id', big)
          // A package not created yet is named by type and name (case-insensitive).
          .addColumn('package_type', 'text')
          .addColumn('package_name', 'text')
          .addColumn('reach', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('token_resources_token').on('token_resources').column('token_id').execute();
      },
    },
    '0014-trusted-publishing': {
      async up(db: Kysely<any>) {
        // Trust policies (src/core/auth/trusted-publishers.ts): "accept ID tokens from ISSUER whose claims match",
        // on a package, on a repository (the packages linked to it), or on an owner naming the package it may create.
        await db.schema.createTable('trusted_publishers')
          .addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('repository_id', big, (c) => c.references('repositories.id').onDelete('cascade'))
          .addColumn('package_id', big, (c) => c.references('packages.id').onDelete('cascade'))
          .addColumn('package_type', 'text')
          .addColumn('package_name', 'text')
          .addColumn('provider', 'text', (c) => c.notNull())
          .addColumn('issuer', 'text', (c) => c.notNull())
          .addColumn('jwks_url', 'text')
          .addColumn('claims', 'text', (c) => c.notNull())
          .addColumn('created_by', big)
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('trusted_publishers_issuer').on('trusted_publishers').column('issuer').execute();
        await db.schema.createIndex('trusted_publishers_owner').on('trusted_publishers').columns(['owner_id', 'id']).execute();
        // Every ID token's jti accepted, until the token expires: a replay on any node meets the primary key.
        await db.schema.createTable('oidc_jtis')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('oidc_jtis_expires').on('oidc_jtis').column('expires_at').execute();
        // A trusted publishing token (kind 'publisher') names the policy that matched first, and carries what its
        // actor is (name, policies, claims, limit) as JSON: it lives 15 minutes and is revoked with its policy.
        await db.schema.alterTable('tokens').addColumn('trusted_publisher_id', big).execute();
        await db.schema.alterTable('tokens').addColumn('publisher', 'text').execute();
      },
    },
    '0015-sigstore': {
      async up(db: Kysely<any>) {
        // Keyless signers trusted for an owner's images (package_name null) or one image: a Fulcio certificate's
        // identity (a regular expression over its SAN) and the OIDC issuer it records. Checked with trusted_keys.
        await db.schema.createTable('signing_identities')
          .addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('package_name', 'text')
          .addColumn('identity', 'text', (c) => c.notNull())
          .addColumn('issuer', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('signing_identities_owner').on('signing_identities').columns(['owner_id', 'package_name']).execute();
      },
    },
    '0016-proxies': {
      async up(db: Kysely<any>) {
        // A pull-through proxy (src/core/proxy/): an organization whose packages are fetched from an upstream registry
        // on first request. One row per proxy owner; the upstream's password is kept as given (it must be sent).
        await db.schema.createTable('proxies')
          .addColumn('owner_id', big, (c) => c.primaryKey().references('owners.id').onDelete('cascade'))
          .addColumn('format', 'text', (c) => c.notNull())
          .addColumn('upstream', 'text', (c) => c.notNull())
          .addColumn('username', 'text')
          .addColumn('password', 'text')
          .addColumn('visibility', 'text', (c) => c.notNull())
          .addColumn('ttl_seconds', 'integer', (c) => c.notNull())
          .addColumn('timeout_ms', 'integer', (c) => c.notNull())
          // The format's unowned names fall through to this proxy (npm: `/npm/NAME` for names Wharf does not hold).
          .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        // The mutable documents a proxy cached (npm packuments): the content in the blob store, and what the
        // upstream said about it for conditional requests. `checked_at` moves with every revalidation.
        await db.schema.createTable('proxy_documents')
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('blob_digest', 'text', (c) => c.notNull())
          .addColumn('etag', 'text')
          .addColumn('last_modified', 'text')
          .addColumn('fetched_at', 'text', (c) => c.notNull())
          .addColumn('checked_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('proxy_documents_pk', ['owner_id', 'key'])
          .execute();
        await db.schema.createIndex('proxy_documents_blob').on('proxy_documents').column('blob_digest').execute();
        // Names a default proxy never resolves upstream (dependency confusion): `@scope`, `@scope/*`, `name`, `prefix-*`.
        await db.schema.createTable('proxy_blocks')
          .addColumn('format', 'text', (c) => c.notNull())
          .addColumn('pattern', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('proxy_blocks_pk', ['format', 'pattern'])
          .execute();
      },
    },
    '0019-promotion': {
      async up(db: Kysely<any>) {
        // Where a version was promoted (src/core/promote.ts): another registry (`target_url`) or another owner of
        // this Wharf (`target_version_id`), with the digests checked on the target after the copy.
        await db.schema.createTable('package_promotions')
          .addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('version_id', big, (c) => c.notNull().references('package_versions.id').onDelete('cascade'))
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('target_url', 'text')
          .addColumn('target_version_id', big, (c) => c.references('package_versions.id').onDelete('set null'))
          .addColumn('checked', 'text', (c) => c.notNull())
          .addColumn('actor', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('package_promotions_version').on('package_promotions').column('version_id').execute();
      },
    },
    '0021-retention': {
      async up(db: Kysely<any>) {
        // Retention rules (src/core/retention/): one per scope of an owner: the whole owner (type and package null),
        // one format of it (type set), or one package (package_id set). The most specific one applies; `rule` is its
        // JSON (keep last N, age limits, keep pattern...), read only by retention.
        await db.schema.createTable('retention_rules')
          .addColumn('id', sql.raw(id) as any, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('type', 'text')
          .addColumn('package_id', big, (c) => c.references('packages.id').onDelete('cascade'))
          // 'owner', 'type:npm' or 'package:12': one rule per scope.
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('rule', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('retention_rules_scope', ['owner_id', 'scope'])
          .execute();
        // Tag patterns of an owner's packages of one format that, once set, neither move nor go (container tags,
        // npm dist-tags), except by an owner admin who overrides explicitly.
        await db.schema.createTable('protected_tags')
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('pattern', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('protected_tags_pk', ['owner_id', 'type', 'pattern'])
          .execute();
        // A version deleted because another was (a referrer or a platform manifest with its subject or index):
        // restoring that one restores it too.
        await db.schema.alterTable('package_versions').addColumn('deleted_with', big).execute();
      },
    },
    '0022-usage-quotas': {
      async up(db: Kysely<any>) {
        // Storage usage kept up to date by the publish verbs (src/core/usage.ts), so reading it is one row. A blob
        // counts once per package and once per owner, however many versions (and packages) of it name it.
        await db.schema.createTable('usage_package_blobs')
          .addColumn('package_id', big, (c) => c.notNull().references('packages.id').onDelete('cascade'))
          .addColumn('owner_id', big, (c) => c.notNull())
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('size', big, (c) => c.notNull())
          .addColumn('refs', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('usage_package_blobs_pk', ['package_id', 'digest'])
          .execute();
        await db.schema.createTable('usage_owner_blobs')
          .addColumn('owner_id', big, (c) => c.notNull().references('owners.id').onDelete('cascade'))
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('size', big, (c) => c.notNull())
          .addColumn('refs', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('usage_owner_blobs_pk', ['owner_id', 'digest'])
          .execute();
        await db.schema.createTable('usage_packages')
          .addColumn('package_id', big, (c) => c.primaryKey().references('packages.id').onDelete('cascade'))
          .addColumn('owner_id', big, (c) => c.notNull())
          .addColumn('bytes', big, (c) => c.notNull())
          .addColumn('versions', 'integer', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('usage_packages_owner').on('usage_packages').column('owner_id').execute();
        await db.schema.createTable('usage_owners')
          .addColumn('owner_id', big, (c) => c.primaryKey().references('owners.id').onDelete('cascade'))
          .addColumn('bytes', big, (c) => c.notNull())
          .addColumn('packages', 'integer', (c) => c.notNull())
          .addColumn('versions', 'integer', (c) => c.notNull())
          .execute();
        // A site admin's override of the instance's default quota (WHARF_QUOTA_*); null keeps the default.
        await db.schema.createTable('quotas')
          .addColumn('owner_id', big, (c) => c.primaryKey().references('owners.id').onDelete('cascade'))
          .addColumn('storage_bytes', big)
          .addColumn('packages', 'integer')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await recomputeUsage(db, { inTransaction: true });
      },
    },
    '0023-job-created-grants': {
      async up(db: Kysely<any>) {
        // A job token reached a linked package whether or not it inherited; now only one that inherits, or one
        // its repository was granted (a job's new package gets that grant). An image a job had started (linked,
        // not yet inheriting, no version) keeps its job's reach through the grant the job would get today.
        await db.insertInto('package_access')
          .columns(['package_id', 'user_id', 'repository_id', 'role'])
          .expression((eb: any) =>
            eb.selectFrom('packages')
              .select(['packages.id', sql`null`.as('user_id'), 'packages.repository_id', sql`'write'`.as('role')])
              .where('packages.inherit_access', '=', 0)
              .where('packages.repository_id', 'is not', null)
              .where(({ not, exists, selectFrom }: any) => not(exists(selectFrom('package_versions').select('package_versions.id').whereRef('package_versions.package_id', '=', 'packages.id'))))
              .where(({ not, exists, selectFrom }: any) => not(exists(selectFrom('package_access as pa').select('pa.package_id').whereRef('pa.package_id', '=', 'packages.id').whereRef('pa.repository_id', '=', 'packages.repository_id')))),
          )
          .execute();
      },
    },
  };
}

export class Migrations implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations() {
    return migrations(this.dialect);
  }
}
