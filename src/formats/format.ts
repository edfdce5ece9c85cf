// What a format is: a protocol front-end mounted under its prefix, over the core.
import type { FastifyInstance } from 'fastify';
import type { Core } from '../core/core.ts';
import type { PackageRow } from '../core/model/packages.ts';
import type { Promoter } from '../core/promote.ts';
import type { PackageVersion } from '../db/tables.ts';

export interface Format {
  /** The package type stored in the model ('npm', 'container', 'maven', 'nuget', 'rubygems', 'generic'). */
  readonly type: string;
  /** URL prefix of the protocol routes, e.g. '/npm'. */
  readonly prefix: string;
  /** Registers the protocol routes, in their own encapsulated Fastify context (own parsers, own error format). */
  register(app: FastifyInstance, core: Core): Promise<void>;
  /** Routes its client resolves against the server's origin, not the prefix (npm's OIDC token exchange), in their own context. */
  rootRoutes?(app: FastifyInstance, core: Core): Promise<void>;
  /**
   * The package's name as its clients spell it, owner included (npm: `@alice/hello`), for the web UI. Without it
   * the UI shows `OWNER/NAME`. `proxied`: the package is a pull-through proxy's (its owner's), named as upstream.
   */
  displayName?(pkg: Pick<PackageRow, 'owner_name' | 'name' | 'proxied'>): string;
  /**
   * How to install a package, for the REST API and the web UI (baseUrl without a trailing slash; `tags`: the
   * version's tags; `files`: the names of its files, for formats whose clients fetch files by name).
   */
  describe(pkg: PackageRow, version: string | null, baseUrl: string, tags?: string[], files?: string[]): { install: string; setup?: string };
  /** Format facts about a version for the REST API's `metadata` (GitHub's shape: `{ container: { tags } }`). */
  versionMetadata?(version: PackageVersion, tags: string[]): Record<string, unknown>;
  /**
   * Set when this format verifies signatures against the keys core/signing trusts and honours its "require
   * signed" policy: the web UI then shows a signing section in the package's settings. `what` names the content.
   */
  readonly signing?: { what: string };
  /** Facts that cost a lookup (e.g. whether an image is signed), for one version's page and API detail. */
  versionFacts?(core: Core, pkg: PackageRow, version: PackageVersion): Promise<Record<string, unknown>>;
  /** How a version of this format is copied to another owner or registry (core/promote.ts). */
  readonly promoter?: Promoter;
}
