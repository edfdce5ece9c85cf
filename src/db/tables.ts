// Row types of every table. Timestamps are ISO-8601 UTC strings (sortable as text on both dialects).
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export type Visibility = 'public' | 'private' | 'internal';
export type Role = 'read' | 'write' | 'admin';

export interface OwnersTable {
  id: Generated<number>;
  kind: 'user' | 'org';
  name: string;
  lower_name: string;
  email: string | null;
  password_hash: string | null;
  is_admin: number;
  created_at: string;
  /** Set while the user is suspended: no password, token or session of theirs works. */
  suspended_at: Generated<string | null>;
}

export interface OrgMembersTable {
  org_id: number;
  user_id: number;
  role: 'owner' | 'member';
}

export interface RepositoriesTable {
  id: Generated<number>;
  owner_id: number;
  name: string;
  lower_name: string;
  visibility: Visibility;
  created_at: string;
}

export interface RepoCollaboratorsTable {
  repository_id: number;
  user_id: number;
  role: Role;
}

export interface TokensTable {
  id: Generated<number>;
  /** The user the token acts for; for a job token, the user who minted it (or null from the CLI). */
  user_id: number | null;
  kind: 'pat' | 'job' | 'publisher';
  name: string;
  /** sha256 hex of the whole token: tokens are high-entropy, so a fast hash is enough and keeps checks cheap. */
  token_hash: string;
  /** First characters of the token, to recognise it in lists. */
  token_prefix: string;
  scopes: string;
  repository_id: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
  /** A trusted publishing token: the policy that matched first, and its actor as JSON (see trusted-publishers.ts). */
  trusted_publisher_id: Generated<number | null>;
  publisher: Generated<string | null>;
}

/** One resource a fine-grained personal token is limited to (see the 0013 migration). */
export interface TokenResourcesTable {
  id: Generated<number>;
  token_id: number;
  owner_id: number;
  /** Packages linked to this repository (of the owner). */
  repository_id: number | null;
  /** One existing package. */
  package_id: number | null;
  /** A package named by type and name (one that did not exist, or could not be seen, when the token was made). */
  package_type: string | null;
  package_name: string | null;
  reach: 'read' | 'write' | 'delete' | 'admin';
}

export interface PackagesTable {
  id: Generated<number>;
  owner_id: number;
  type: string;
  name: string;
  lower_name: string;
  visibility: Visibility;
  repository_id: number | null;
  inherit_access: number;
  /** Format-owned JSON (npm: description, readme of latest, …). */
  metadata: string;
  /** Bumped by every change; caches of derived documents key on it. */
  revision: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface PackageVersionsTable {
  id: Generated<number>;
  package_id: number;
  version: string;
  lower_version: string;
  metadata: string;
  created_by: number | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

/** The version whose deletion took this one with it (its subject, or the index that listed it): restore and retention only. */
type DeletedWith = { deleted_with: ColumnType<number | null, number | null | undefined, number | null> };

export interface PackageFilesTable {
  id: Generated<number>;
  version_id: number;
  name: string;
  lower_name: string;
  blob_digest: string;
  size: number;
  content_type: string;
  is_primary: number;
  created_at: string;
}

export interface BlobsTable {
  digest: string;
  size: number;
  sha1: string | null;
  sha512: string | null;
  md5: string | null;
  created_at: string;
}

export interface PackageTagsTable {
  package_id: number;
  name: string;
  version_id: number;
  updated_at: string;
}

export interface PackagePropertiesTable {
  id: Generated<number>;
  ref_type: 'package' | 'version' | 'file';
  ref_id: number;
  name: string;
  value: string;
}

export interface PackageAccessTable {
  package_id: number;
  user_id: number | null;
  repository_id: number | null;
  role: Role;
}

export interface DownloadsTable {
  version_id: number;
  day: string;
  count: number;
}

export interface UploadSessionsTable {
  id: string;
  package_id: number;
  size: number;
  created_at: string;
  updated_at: string;
}

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  private_jwk: string;
  public_jwk: string;
  created_at: string;
}

export interface WebhooksTable {
  id: Generated<number>;
  owner_id: number | null;
  repository_id: number | null;
  url: string;
  secret: string | null;
  content_type: 'json' | 'form';
  /** JSON array of event names ('package'). */
  events: string;
  active: number;
  created_at: string;
  updated_at: string;
}

export interface WebhookDeliveriesTable {
  id: string;
  hook_id: number;
  event: string;
  action: string;
  payload: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  claimed_until: string | null;
  /** The node (and pass) holding the claim until `claimed_until`. */
  claimed_by: string | null;
  response_status: number | null;
  response_body: string | null;
  error: string | null;
  duration_ms: number | null;
  redelivery: number;
  created_at: string;
  delivered_at: string | null;
  /** 1 when the response came from a private (allow-listed) address, 0 from a public one, null when not known. */
  target_private: number | null;
}

export interface WebhookAllowlistTable {
  id: Generated<number>;
  /** null: for every owner's hooks. */
  owner_id: number | null;
  /** A host name, `*.domain`, IP address or CIDR (normalizePattern). */
  pattern: string;
  created_at: string;
}

export interface TrustedKeysTable {
  id: Generated<number>;
  owner_id: number;
  package_name: string | null;
  public_pem: string;
  fingerprint: string;
  created_at: string;
}

/** A keyless signer trusted for an owner's images (package_name null) or one image: certificate identity and issuer. */
export interface SigningIdentitiesTable {
  id: Generated<number>;
  owner_id: number;
  package_name: string | null;
  identity: string;
  issuer: string;
  created_at: string;
}

export interface SigningPoliciesTable {
  id: Generated<number>;
  owner_id: number;
  package_name: string | null;
  created_at: string;
}

/** A web UI sign-in: only sha256(cookie value) is stored, so a database leak yields no usable session. */
export interface SessionsTable {
  id_hash: string;
  user_id: number;
  created_at: string;
  expires_at: string;
}

/**
 * One security-relevant change (see core/audit/audit.ts), written in the change's transaction. No foreign keys:
 * the log outlives the users, owners, repositories and packages it names, so their names are copied in.
 */
export interface AuditLogTable {
  id: Generated<number>;
  created_at: string;
  action: string;
  actor_id: number | null;
  actor_name: string | null;
  /** How the actor authenticated: password | token | job | registry | session | system | anonymous. */
  credential: string;
  token_id: number | null;
  client_ip: string | null;
  /** The user or organization whose log the event belongs to. */
  owner_id: number | null;
  owner_name: string | null;
  owner_kind: 'user' | 'org' | null;
  /** The user the change is about (the member added, the token's owner, the account that failed to sign in). */
  user_id: number | null;
  user_name: string | null;
  repository_id: number | null;
  repository_name: string | null;
  package_id: number | null;
  /** A readable name of what changed (`npm/left-pad 1.0.0`, a hook URL, a token name). */
  target: string | null;
  /** JSON object of action-specific facts (old and new visibility, role, scopes, ...). */
  details: string;
}

/** Failed sign-ins of one account or client address, for the lockout (core/auth/throttle.ts). */
export interface LoginFailuresTable {
  key: string;
  failures: number;
  last_failure_at: string;
  locked_until: string | null;
}

/** A job only one node runs at a time (garbage collection), and when it last finished. */
export interface JobLeasesTable {
  name: string;
  holder: string;
  expires_at: string;
  finished_at: string | null;
}

/** When a blob was last committed or mounted: garbage collection leaves it alone for the grace period after. */
export interface BlobWritesTable {
  digest: string;
  written_at: string;
}

/** A pull-through proxy: the organization `owner_id` mirrors an upstream registry (see core/proxy/). */
export interface ProxiesTable {
  owner_id: number;
  format: string;
  upstream: string;
  username: string | null;
  /** Sent to the upstream as given, so not hashed; never logged nor shown. */
  password: string | null;
  visibility: Visibility;
  ttl_seconds: number;
  timeout_ms: number;
  is_default: number;
  created_at: string;
}

/** A mutable upstream document a proxy cached (npm packument), revalidated after the proxy's TTL. */
export interface ProxyDocumentsTable {
  owner_id: number;
  key: string;
  blob_digest: string;
  etag: string | null;
  last_modified: string | null;
  fetched_at: string;
  checked_at: string;
}

/** A name pattern a default proxy of `format` never resolves upstream. */
export interface ProxyBlocksTable {
  format: string;
  pattern: string;
  created_at: string;
}

/** A trust policy: ID tokens of `issuer` whose claims match `claims` (JSON: claim → pattern) may publish what it names. */
export interface TrustedPublishersTable {
  id: Generated<number>;
  owner_id: number;
  repository_id: number | null;
  package_id: number | null;
  /** On an owner: the package (type and name) the policy may create and publish to. */
  package_type: string | null;
  package_name: string | null;
  provider: 'github' | 'gitlab' | 'generic';
  issuer: string;
  jwks_url: string | null;
  claims: string;
  created_by: number | null;
  created_at: string;
}

/** ID token ids already exchanged (`ISSUER jti`), kept until the token expires. */
export interface OidcJtisTable {
  key: string;
  expires_at: string;
}

/** A version copied to another registry or owner (core/promote.ts); `checked` is JSON: the digests verified there. */
export interface PackagePromotionsTable {
  id: Generated<number>;
  version_id: number;
  /** What the user named: `URL` or `OWNER/NAME` (this Wharf). */
  target: string;
  target_url: string | null;
  target_version_id: number | null;
  checked: string;
  actor: string | null;
  created_at: string;
}

/** A retention rule of an owner, one of its formats, or one package (`scope`: owner, type:T, package:ID). */
export interface RetentionRulesTable {
  id: Generated<number>;
  owner_id: number;
  type: string | null;
  package_id: number | null;
  scope: string;
  /** JSON: see RetentionRule in src/core/retention/rules.ts. */
  rule: string;
  created_at: string;
  updated_at: string;
}

/** A tag pattern of an owner's packages of one format that cannot be moved or removed once set. */
export interface ProtectedTagsTable {
  owner_id: number;
  type: string;
  pattern: string;
  created_at: string;
}

/** Storage usage, maintained by the publish verbs (src/core/usage.ts). */
export interface UsagePackageBlobsTable { package_id: number; owner_id: number; digest: string; size: number; refs: number }
export interface UsageOwnerBlobsTable { owner_id: number; digest: string; size: number; refs: number }
export interface UsagePackagesTable { package_id: number; owner_id: number; bytes: number; versions: number }
export interface UsageOwnersTable { owner_id: number; bytes: number; packages: number; versions: number }
/** A site admin's per-owner quota; null keeps the instance default. */
export interface QuotasTable { owner_id: number; storage_bytes: number | null; packages: number | null; updated_at: string }

export interface Database {
  package_promotions: PackagePromotionsTable;
  retention_rules: RetentionRulesTable;
  protected_tags: ProtectedTagsTable;
  usage_package_blobs: UsagePackageBlobsTable;
  usage_owner_blobs: UsageOwnerBlobsTable;
  usage_packages: UsagePackagesTable;
  usage_owners: UsageOwnersTable;
  quotas: QuotasTable;
  proxies: ProxiesTable;
  proxy_documents: ProxyDocumentsTable;
  proxy_blocks: ProxyBlocksTable;
  trusted_publishers: TrustedPublishersTable;
  oidc_jtis: OidcJtisTable;
  job_leases: JobLeasesTable;
  blob_writes: BlobWritesTable;
  audit_log: AuditLogTable;
  sessions: SessionsTable;
  login_failures: LoginFailuresTable;
  trusted_keys: TrustedKeysTable;
  signing_policies: SigningPoliciesTable;
  signing_identities: SigningIdentitiesTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_allowlist: WebhookAllowlistTable;
  upload_sessions: UploadSessionsTable;
  signing_keys: SigningKeysTable;
  owners: OwnersTable;
  org_members: OrgMembersTable;
  repositories: RepositoriesTable;
  repo_collaborators: RepoCollaboratorsTable;
  tokens: TokensTable;
  token_resources: TokenResourcesTable;
  packages: PackagesTable;
  package_versions: PackageVersionsTable & DeletedWith;
  package_files: PackageFilesTable;
  blobs: BlobsTable;
  package_tags: PackageTagsTable;
  package_properties: PackagePropertiesTable;
  package_access: PackageAccessTable;
  downloads: DownloadsTable;
}

export type Owner = Selectable<OwnersTable>;
export type Repository = Selectable<RepositoriesTable>;
export type Token = Selectable<TokensTable>;
export type Package = Selectable<PackagesTable>;
export type PackageVersion = Selectable<PackageVersionsTable>;
export type PackageFile = Selectable<PackageFilesTable>;
export type Blob = Selectable<BlobsTable>;
export type NewPackage = Insertable<PackagesTable>;
export type Webhook = Selectable<WebhooksTable>;
export type WebhookDelivery = Selectable<WebhookDeliveriesTable>;
export type WebhookAllowlistEntry = Selectable<WebhookAllowlistTable>;
export type Proxy = Selectable<ProxiesTable>;
export type AuditLogRow = Selectable<AuditLogTable>;
