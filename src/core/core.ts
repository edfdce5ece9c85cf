// The core, assembled from its parts: plain TypeScript with its dependencies passed in (no HTTP here).
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { ChangeGeneration } from '../db/changes.ts';
import { openDatabase, type Db, type DialectName } from '../db/database.ts';
import { AuditLog } from './audit/audit.ts';
import { Authenticator } from './auth/authenticate.ts';
import { Authorizer } from './auth/authorize.ts';
import { RegistryTokens } from './auth/registry-tokens.ts';
import { LoginThrottle } from './auth/throttle.ts';
import { TokenService } from './auth/token-service.ts';
import { TrustedPublishers } from './auth/trusted-publishers.ts';
import { BlobCache } from './blobs/blob-cache.ts';
import { instrumentBlobStore, type BlobStore } from './blobs/blob-store.ts';
import { FsBlobStore } from './blobs/fs-store.ts';
import { UploadSessions } from './blobs/uploads.ts';
import { Events } from './events/events.ts';
import { Webhooks } from './events/webhooks.ts';
import { SigstoreVerifier } from './signing/sigstore.ts';
import { SigningTrust } from './signing/trust.ts';
import { Identity } from './identity/identity.ts';
import { DownloadCounter } from './model/downloads.ts';
import { Packages } from './model/packages.ts';
import { Publisher } from './publish.ts';
import { Proxies } from './proxy/proxies.ts';
import { Promotions } from './promote.ts';
import { ProxyCache } from './proxy/proxy-cache.ts';
import { Retention } from './retention/retention.ts';

export interface Core {
  config: Config;
  db: Db;
  dialect: DialectName;
  /** Moves when committed data that read caches derive from may have changed (on any node). */
  changes: ChangeGeneration;
  blobs: BlobStore;
  /** Small content from memory, larger content streamed: what every download sends. */
  blobCache: BlobCache;
  identity: Identity;
  tokens: TokenService;
  /** Trust policies and the OIDC exchange (trusted publishing). */
  trustedPublishers: TrustedPublishers;
  authn: Authenticator;
  registryTokens: RegistryTokens;
  uploads: UploadSessions;
  webhooks: Webhooks;
  signing: SigningTrust;
  authz: Authorizer;
  packages: Packages;
  publisher: Publisher;
  downloads: DownloadCounter;
  events: Events;
  /** Security-relevant changes, each written in its change's transaction. */
  audit: AuditLog;
  /** Pull-through proxies (owners mirroring an upstream registry), and what fetches for them. */
  proxies: Proxies;
  proxyCache: ProxyCache;
  /** Versions copied to another registry or owner, and where they went. */
  promotions: Promotions;
  /** Retention rules and protected tags. */
  retention: Retention;
  /** Writes buffered counters (downloads, token use). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Builds the core over an open database and blob store. */
export function createCore(deps: { config: Config; db: Db; dialect: DialectName; blobs: BlobStore; changes: ChangeGeneration; logger?: Logger; durable?: () => Promise<void> }): Core {
  const { config, db, dialect, blobs, changes } = deps;
  const events = new Events((err) => deps.logger?.error({ err }, 'event listener failed'));
  const authz = new Authorizer(db, changes);
  // Every verb that changes something security-relevant records it (Publisher, Identity, TokenService, ...).
  const audit = new AuditLog(db);
  const identity = new Identity(db, authz, audit, { signup: config.signup });
  const tokens = new TokenService(db, identity, changes, authz, audit);
  const downloads = new DownloadCounter(db);
  const registryTokens = new RegistryTokens(db);
  const webhooks = new Webhooks(db, config, deps.logger, changes, authz, audit);
  // A change's deliveries are written in its transaction; after the commit the sender is woken if it queued any
  // (its poll would find them anyway). A slow or dead endpoint never slows the change itself.
  events.inTransaction(async (trx, e) => {
    await webhooks.enqueue(trx, e);
  });
  events.on(() => webhooks.afterChange());
  let closed = false;
  const packages = new Packages(db, changes);
  const publisher = new Publisher(db, events, authz, config.restoreDays, deps.durable, audit, async (digest) => !!(await blobs.stat(digest)), config.quota);
  const core: Core = {
    config, db, dialect, changes, blobs, identity, audit,
    blobCache: new BlobCache(blobs, config.blobCacheBytes), tokens, events, downloads,
    authn: new Authenticator(tokens, identity, registryTokens, new LoginThrottle(db, changes), changes, audit),
    registryTokens,
    trustedPublishers: new TrustedPublishers(db, identity, authz, config.oidc, audit),
    uploads: new UploadSessions(db, blobs, config.maxBlobSize),
    webhooks,
    signing: new SigningTrust(db, identity, authz, audit, SigstoreVerifier.fromFile(config.sigstoreTrustedRoot)),
    authz,
    packages,
    publisher,
    proxies: new Proxies(db, authz, audit, changes),
    proxyCache: new ProxyCache(db, blobs, publisher, packages, deps.logger),
    promotions: new Promotions(db, authz, packages, publisher, blobs, events, audit, webhooks, deps.durable),
    retention: new Retention(db, authz, publisher, audit),
    async flush() {
      await downloads.flush();
      await tokens.flush();
    },
    async close() {
      if (closed) return;
      closed = true;
      webhooks.stop();
      // Proxied content still being fetched or kept (prefetches, copies the clients already have) ends first.
      await core.proxyCache.close().catch(() => {});
      await core.flush().catch((err) => deps.logger?.error({ err }, 'final flush failed'));
      await deps.durable?.().catch((err) => deps.logger?.error({ err }, 'final sync failed'));
      await db.destroy();
      (blobs as { destroy?(): void }).destroy?.(); // an S3 client's sockets
    },
  };
  return core;
}

/** The configured blob store; an S3 bucket is checked (and created when missing) before anything is served. */
export async function openBlobStore(config: Config): Promise<BlobStore> {
  const c = config.blobStore;
  if (c.kind === 'fs') return instrumentBlobStore(new FsBlobStore(path.join(config.dataDir, 'blobs')));
  // Loaded only for S3: the AWS SDK costs a filesystem-backed server ~25 MiB and a tenth of a second at start.
  const { S3BlobStore } = await import('./blobs/s3-store.ts');
  const store = new S3BlobStore({ bucket: c.bucket, endpoint: c.endpoint, region: c.region, forcePathStyle: c.forcePathStyle, prefix: c.prefix });
  await store.init();
  return instrumentBlobStore(store);
}

/** Opens the configured database and blob store and builds the core (`short`: for one CLI command, see OpenOptions). */
export async function openCore(config: Config, logger?: Logger, opts: { short?: boolean } = {}): Promise<Core> {
  const { db, dialect, durable, changes } = await openDatabase(config.databaseUrl, { backgroundCheckpoints: !opts.short });
  const blobs = await openBlobStore(config).catch(async (e) => {
    await db.destroy();
    throw e;
  });
  return createCore({ config, db, dialect, blobs, changes, logger, durable });
}
