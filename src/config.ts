// One schema over the WHARF_* environment: every key has a default and a doc line; the result is frozen.
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import type { InflationLimits } from './core/inflation.ts';
import { parseSize, type QuotaDefaults } from './core/usage.ts';

const schema = z.object({
  /** TCP port the HTTP server listens on. */
  WHARF_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Address to bind; 0.0.0.0 serves every interface. */
  WHARF_HOST: z.string().min(1).default('0.0.0.0'),
  /** Folder for the embedded database and the blob store. */
  WHARF_DATA: z.string().min(1).default('./data'),
  /** Public URL of this server (e.g. https://wharf.example.com); by default taken from each request's Host. */
  WHARF_BASE_URL: z.string().url().optional(),
  /** sqlite:PATH (default: DATA/wharf.db) or postgres://user@host:port/db for scale-out. */
  WHARF_DATABASE_URL: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://').optional(),
  /** pino log level. */
  WHARF_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Largest npm publish body accepted, in bytes (the tarball travels base64-encoded inside it). */
  WHARF_NPM_MAX_BODY: z.coerce.number().int().positive().default(1024 * 1024 * 1024),
  WHARF_NPM_PREFETCH: z.enum(['off', 'packuments', 'all']).default('all'),
  /** How often buffered download counts are written to the database, in milliseconds. */
  WHARF_DOWNLOAD_FLUSH_MS: z.coerce.number().int().positive().default(5000),
  /** Memory for small package files kept by digest (npm tarballs, POMs, small layers ≤ 1 MiB), in MiB; 0 turns it off. */
  WHARF_BLOB_CACHE_MB: z.coerce.number().int().min(0).default(256),
  /** How many builds of each Maven SNAPSHOT version to keep (0 keeps all). */
  WHARF_MAVEN_SNAPSHOT_KEEP: z.coerce.number().int().min(0).default(0),
  /** Largest container blob (layer) accepted, in bytes. */
  WHARF_MAX_BLOB_SIZE: z.coerce.number().int().positive().default(10 * 1024 ** 3),
  /** Largest container manifest accepted, in bytes (the OCI spec suggests 4 MiB). */
  WHARF_MAX_MANIFEST_SIZE: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  /** Most bytes an uploaded archive (npm tarball, .nupkg, .snupkg, .gem) may unpack to. */
  WHARF_MAX_UNPACKED_SIZE: z.coerce.number().int().positive().default(4 * 1024 ** 3),
  /** Most an archive may inflate per compressed byte past its first 16 MiB; more is refused as a compression bomb. */
  WHARF_MAX_COMPRESSION_RATIO: z.coerce.number().positive().default(100),
  /** Idle time after which an unfinished container upload is removed, in seconds. */
  WHARF_UPLOAD_EXPIRY_SECONDS: z.coerce.number().int().positive().default(24 * 3600),
  /** How often garbage collection runs in the server, in seconds (0: only `wharf gc`). */
  WHARF_GC_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(6 * 3600),
  /** How often the server applies retention rules, in seconds (0: only `wharf retention run`); one node at a time. */
  WHARF_RETENTION_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(24 * 3600),
  /** Hosts or CIDRs webhooks may target although private (loopback, link-local, private ranges are refused otherwise). */
  WHARF_WEBHOOK_ALLOWED_HOSTS: z.string().default(''),
  /** Seconds before the first retry of a failed webhook delivery; each later retry waits twice as long. */
  WHARF_WEBHOOK_RETRY_SECONDS: z.coerce.number().positive().default(10),
  /** Attempts before a delivery is given up (it can still be redelivered by hand). */
  WHARF_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().positive().default(8),
  /** Timeout of one delivery, in milliseconds. */
  WHARF_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Default storage quota of every owner (`10GiB`, `500MB`, bytes); empty is unlimited. Site admins override it per owner. */
  WHARF_QUOTA_STORAGE: z.string().default('').refine((v) => v === '' || parseSize(v) !== undefined, 'must be a size such as 10GiB, 500MB or a number of bytes'),
  /** Default most packages an owner may have; empty is unlimited. Site admins override it per owner. */
  WHARF_QUOTA_PACKAGES: z.union([z.literal(''), z.coerce.number().int().nonnegative()]).default(''),
  /** Days a deleted package or version can still be restored. */
  WHARF_RESTORE_DAYS: z.coerce.number().int().positive().default(30),
  /** Whether people may create their own account on the web UI's sign-up page (open) or only admins add users (closed). */
  WHARF_SIGNUP: z.enum(['open', 'closed']).default('closed'),
  /** Where blobs live: fs (DATA/blobs) or s3 (a bucket shared by every node; DATA then holds only scratch files). */
  WHARF_BLOB_STORE: z.enum(['fs', 's3']).default('fs'),
  /** S3 bucket for blobs (required with WHARF_BLOB_STORE=s3); created at start when missing and allowed. */
  WHARF_S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name (3-63 of a-z 0-9 . -)').optional(),
  /** S3 endpoint URL for S3-compatible stores (MinIO, Ceph radosgw...); by default AWS's for the region. */
  WHARF_S3_ENDPOINT: z.string().url().optional(),
  /** S3 region (default: AWS_REGION, else us-east-1). */
  WHARF_S3_REGION: z.string().regex(/^[a-z0-9-]+$/, 'must be a region name such as us-east-1').optional(),
  /** Path-style addressing (endpoint/bucket/key) instead of virtual hosts (bucket.endpoint/key): most S3-compatible stores need it. */
  WHARF_S3_FORCE_PATH_STYLE: z.enum(['true', 'false', '1', '0', 'on', 'off', 'yes', 'no']).default('false'),
  /** Key prefix inside the bucket (e.g. wharf/), to share a bucket. */
  WHARF_S3_PREFIX: z.string().regex(/^[^/].*$|^$/, 'must not start with /').default(''),
  /** Seconds a stopping server (SIGTERM, SIGINT) waits for requests in flight (uploads, publishes) before cutting them off. */
  WHARF_SHUTDOWN_TIMEOUT: z.coerce.number().min(0).default(30),
  /** Whether GET /metrics serves Prometheus metrics (on) or does not exist (off). */
  WHARF_METRICS: z.enum(['on', 'off']).default('on'),
  /** Addresses or CIDRs that may read /metrics without credentials (requests through a proxy never count as them); others need a site admin's token. */
  WHARF_METRICS_ALLOW: z.string().default('127.0.0.1,::1'),
  /** on: an authorized blob GET answers 307 to a short-lived presigned S3 URL, so the bytes never pass through Wharf (WHARF_BLOB_STORE=s3 only). */
  WHARF_S3_REDIRECT: z.enum(['on', 'off', 'true', 'false', '1', '0']).default('off'),
  /** Content smaller than this many bytes is still sent by Wharf (from its memory cache) rather than redirected. */
  WHARF_S3_REDIRECT_MIN_BYTES: z.coerce.number().int().min(0).default(1024 * 1024),
  /** How long a presigned download URL stays valid, in seconds. */
  WHARF_S3_REDIRECT_EXPIRY_SECONDS: z.coerce.number().int().min(10).max(7 * 24 * 3600).default(300),
  /** Behind nginx with the filesystem store: the internal location (e.g. /_blobs/) that serves the blob folder; Wharf then answers blob GETs with X-Accel-Redirect and nginx sends the bytes. */
  WHARF_ACCEL_REDIRECT: z.string().regex(/^\/([A-Za-z0-9._~-]+\/)+$/, 'must be a location path such as /_blobs/ (starting and ending with /)').optional(),
  /** Path of a Sigstore trusted_root.json (Fulcio CAs, Rekor and CT log keys, timestamp authorities) that keyless signatures and npm provenance are verified against; the public-good instance's root can be dropped in. Unset: only key-based signatures verify. */
  WHARF_SIGSTORE_TRUSTED_ROOT: z.string().min(1).optional(),
  /** Proxies believed about X-Forwarded-For/-Proto: their addresses or CIDRs, comma-separated (e.g. 127.0.0.1,10.0.0.0/8), on (any peer) or off (default). */
  WHARF_TRUST_PROXY: z.string().regex(/^(on|off|true|false|[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*)$/, 'must be on, off, or addresses/CIDRs separated by commas').default('off'),
  /** OpenID Connect issuers whose ID tokens trusted publishing accepts (comma-separated https URLs); policies may name only these, and only these are fetched (discovery, JWKS). */
  WHARF_OIDC_ISSUERS: z.string().default('https://token.actions.githubusercontent.com,https://gitlab.com'),
  /** A PEM file of extra certificate authorities trusted when fetching an issuer's discovery document and keys (a self-managed GitLab with a private CA). */
  WHARF_OIDC_CA_FILE: z.string().min(1).optional(),
}).superRefine((e, ctx) => {
  for (const i of e.WHARF_OIDC_ISSUERS.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!/^https:\/\/[^\s]+$/.test(i) || !URL.canParse(i)) ctx.addIssue({ code: 'custom', path: ['WHARF_OIDC_ISSUERS'], message: `"${i}" is not an https URL` });
  }
  if (e.WHARF_BLOB_STORE === 's3' && !e.WHARF_S3_BUCKET) ctx.addIssue({ code: 'custom', path: ['WHARF_S3_BUCKET'], message: 'is required with WHARF_BLOB_STORE=s3' });
  for (const a of e.WHARF_METRICS_ALLOW.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [ip, bits, more] = a.split('/');
    const max = net.isIPv4(ip) ? 32 : net.isIPv6(ip) ? 128 : 0;
    if (!max || more !== undefined || (bits !== undefined && !(/^[0-9]{1,3}$/.test(bits) && Number(bits) <= max))) {
      ctx.addIssue({ code: 'custom', path: ['WHARF_METRICS_ALLOW'], message: `"${a}" is not an IP address or CIDR range` });
    }
  }
  if (on(e.WHARF_S3_REDIRECT) && e.WHARF_BLOB_STORE !== 's3') ctx.addIssue({ code: 'custom', path: ['WHARF_S3_REDIRECT'], message: 'needs WHARF_BLOB_STORE=s3' });
  if (e.WHARF_ACCEL_REDIRECT && e.WHARF_BLOB_STORE !== 'fs') ctx.addIssue({ code: 'custom', path: ['WHARF_ACCEL_REDIRECT'], message: 'needs WHARF_BLOB_STORE=fs (nginx serves files of the blob folder)' });
});

function on(v: string): boolean {
  return ['on', 'true', '1'].includes(v);
}

/** Fastify's trustProxy from WHARF_TRUST_PROXY. */
function trustProxyOf(v: string): boolean | string {
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  return v.split(',').map((s) => s.trim()).join(',');
}

export type Config = Readonly<{
  port: number;
  host: string;
  dataDir: string;
  baseUrl: string | undefined;
  databaseUrl: string;
  logLevel: z.infer<typeof schema>['WHARF_LOG_LEVEL'];
  npmMaxBody: number;
  /** What an npm proxy fetches ahead of a client (src/formats/npm/prefetch.ts). */
  npmPrefetch: 'off' | 'packuments' | 'all';
  downloadFlushMs: number;
  restoreDays: number;
  /** The instance's default quota (null: unlimited); src/core/usage.ts. */
  quota: QuotaDefaults;
  maxBlobSize: number;
  maxManifestSize: number;
  /** Bounds on what uploaded archives inflate to (src/core/inflation.ts). */
  inflation: InflationLimits;
  blobCacheBytes: number;
  mavenSnapshotKeep: number;
  uploadExpirySeconds: number;
  gcIntervalSeconds: number;
  retentionIntervalSeconds: number;
  webhookAllowedHosts: string[];
  /** Trusted publishing: the issuers accepted (no trailing slash), and extra CAs for fetching their keys. */
  oidc: { issuers: string[]; caFile?: string };
  webhookRetrySeconds: number;
  webhookMaxAttempts: number;
  webhookTimeoutMs: number;
  signup: 'open' | 'closed';
  /** The blob store: the filesystem under dataDir, or an S3 bucket (credentials from the AWS SDK's chain). */
  shutdownTimeoutMs: number;
  metrics: { enabled: boolean; allow: string[] };
  blobStore: { kind: 'fs' } | { kind: 's3'; bucket: string; endpoint?: string; region?: string; forcePathStyle: boolean; prefix: string };
  /** How blob GETs may hand their bytes to someone else (src/http/blob-reply.ts). */
  blobDelivery: Readonly<{
    /** S3 only: redirect GETs of content of at least `minBytes` to a presigned URL valid `expirySeconds`. */
    s3Redirect: { minBytes: number; expirySeconds: number } | null;
    /** fs behind nginx: the internal location serving the blob folder (ends with /). */
    accelRedirect: string | null;
  }>;
  /** Fastify's trustProxy: whom to believe about the client's address and protocol. */
  trustProxy: boolean | string;
  /** Sigstore trusted_root.json for keyless verification (src/core/signing/sigstore.ts), if any. */
  sigstoreTrustedRoot: string | undefined;
}>;

/** Validates the environment once; throws an Error listing every bad key. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.WHARF_DATA);
  return Object.freeze({
    port: e.WHARF_PORT,
    host: e.WHARF_HOST,
    dataDir,
    baseUrl: e.WHARF_BASE_URL?.replace(/\/+$/, ''),
    databaseUrl: e.WHARF_DATABASE_URL ?? `sqlite:${path.join(dataDir, 'wharf.db')}`,
    logLevel: e.WHARF_LOG_LEVEL,
    npmMaxBody: e.WHARF_NPM_MAX_BODY,
    npmPrefetch: e.WHARF_NPM_PREFETCH,
    downloadFlushMs: e.WHARF_DOWNLOAD_FLUSH_MS,
    restoreDays: e.WHARF_RESTORE_DAYS,
    quota: Object.freeze({ storageBytes: e.WHARF_QUOTA_STORAGE === '' ? null : parseSize(e.WHARF_QUOTA_STORAGE)!, packages: e.WHARF_QUOTA_PACKAGES === '' ? null : e.WHARF_QUOTA_PACKAGES }),
    maxBlobSize: e.WHARF_MAX_BLOB_SIZE,
    maxManifestSize: e.WHARF_MAX_MANIFEST_SIZE,
    inflation: Object.freeze({ maxUnpacked: e.WHARF_MAX_UNPACKED_SIZE, maxRatio: e.WHARF_MAX_COMPRESSION_RATIO }),
    blobCacheBytes: e.WHARF_BLOB_CACHE_MB * 1024 * 1024,
    mavenSnapshotKeep: e.WHARF_MAVEN_SNAPSHOT_KEEP,
    uploadExpirySeconds: e.WHARF_UPLOAD_EXPIRY_SECONDS,
    gcIntervalSeconds: e.WHARF_GC_INTERVAL_SECONDS,
    retentionIntervalSeconds: e.WHARF_RETENTION_INTERVAL_SECONDS,
    webhookAllowedHosts: e.WHARF_WEBHOOK_ALLOWED_HOSTS.split(',').map((h) => h.trim()).filter(Boolean),
    oidc: { issuers: e.WHARF_OIDC_ISSUERS.split(',').map((h) => h.trim().replace(/\/+$/, '')).filter(Boolean), caFile: e.WHARF_OIDC_CA_FILE },
    webhookRetrySeconds: e.WHARF_WEBHOOK_RETRY_SECONDS,
    webhookMaxAttempts: e.WHARF_WEBHOOK_MAX_ATTEMPTS,
    webhookTimeoutMs: e.WHARF_WEBHOOK_TIMEOUT_MS,
    signup: e.WHARF_SIGNUP,
    shutdownTimeoutMs: e.WHARF_SHUTDOWN_TIMEOUT * 1000,
    metrics: Object.freeze({ enabled: e.WHARF_METRICS === 'on', allow: e.WHARF_METRICS_ALLOW.split(',').map((a) => a.trim()).filter(Boolean) }),
    blobStore: Object.freeze(
      e.WHARF_BLOB_STORE === 's3'
        ? {
            kind: 's3' as const,
            bucket: e.WHARF_S3_BUCKET!,
            endpoint: e.WHARF_S3_ENDPOINT,
            region: e.WHARF_S3_REGION,
            forcePathStyle: ['true', '1', 'on', 'yes'].includes(e.WHARF_S3_FORCE_PATH_STYLE),
            prefix: e.WHARF_S3_PREFIX && !e.WHARF_S3_PREFIX.endsWith('/') ? `${e.WHARF_S3_PREFIX}/` : e.WHARF_S3_PREFIX,
          }
        : { kind: 'fs' as const },
    ),
    blobDelivery: Object.freeze({
      s3Redirect: on(e.WHARF_S3_REDIRECT) ? Object.freeze({ minBytes: e.WHARF_S3_REDIRECT_MIN_BYTES, expirySeconds: e.WHARF_S3_REDIRECT_EXPIRY_SECONDS }) : null,
      accelRedirect: e.WHARF_ACCEL_REDIRECT ?? null,
    }),
    trustProxy: trustProxyOf(e.WHARF_TRUST_PROXY),
    sigstoreTrustedRoot: e.WHARF_SIGSTORE_TRUSTED_ROOT,
  });
}
