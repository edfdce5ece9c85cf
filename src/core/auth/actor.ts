// Who is making a request, as every format and the REST API see it.
import type { RepositoryAccess } from './registry-tokens.ts';
import { SCOPES, type Scope } from './tokens.ts';

export interface UserRef {
  id: number;
  name: string;
  isAdmin: boolean;
  /** The person's email, when the credential's lookup read it (tokens do: npm records it on every publish). */
  email?: string | null;
}

/** How a request proved who it is, and from where: recorded in the audit log. */
export interface Origin {
  credential: 'anonymous' | 'password' | 'token' | 'job' | 'registry' | 'session' | 'system' | 'oidc';
  /** The client address (req.ip), when the actor came from an HTTP request. */
  ip?: string;
}

/** How far a fine-grained credential reaches on what it names: each level includes the ones before it. */
export type Reach = 'read' | 'write' | 'delete' | 'admin';
export const REACH_RANK: Record<Reach, number> = { read: 1, write: 2, delete: 3, admin: 4 };

/**
 * One thing a fine-grained credential names. A package matches when it belongs to `ownerId` and to every other
 * field given: linked to `repositoryId`, the package `packageId`, of `type`, named `name` (case-insensitive; a
 * package that does not exist yet can be named so it may be created).
 */
export interface LimitResource {
  ownerId: number;
  repositoryId?: number | null;
  packageId?: number | null;
  type?: string | null;
  name?: string | null;
  reach: Reach;
}

/**
 * What a fine-grained credential may touch: the resources it names, and nothing else but what is public (which
 * anyone may read). A limited credential manages nothing (no orgs, repositories, hooks, tokens or site).
 */
export interface AccessLimit {
  resources: readonly LimitResource[];
}

export type Actor =
  | { kind: 'anonymous'; via?: Origin }
  /** A person, through a personal token (scopes capped, `limit` narrowing a fine-grained one) or a password/session (all scopes). */
  | { kind: 'user'; user: UserRef; scopes: ReadonlySet<Scope>; tokenId: number | null; registry?: RepositoryAccess[]; limit?: AccessLimit; via?: Origin }
  /** The operator at the console (`wharf` CLI): holds the database, so may do anything. */
  | { kind: 'system'; scopes: ReadonlySet<Scope>; registry?: undefined; limit?: undefined; via?: Origin }
  /** A CI job: bound to one repository, it writes that repository's packages and reads what it was granted. */
  | { kind: 'job'; repositoryId: number; repositoryOwnerId: number; repositoryName: string; scopes: ReadonlySet<Scope>; tokenId: number; registry?: RepositoryAccess[]; limit?: AccessLimit; via?: Origin }
  /**
   * A trusted publisher: a CI run that proved who it is with an OpenID Connect ID token, exchanged for a short-lived
   * token. Its `limit` is both what it reaches and what it is granted (the trust policy that matched): it holds no
   * role of its own, so it writes exactly the packages the policy names and reads what is public besides.
   * `name` is how it shows (e.g. `github:octo/app`), `claims` what the ID token said (kept on what it publishes).
   */
  | { kind: 'publisher'; name: string; policyId: number; claims: Readonly<Record<string, string>>; scopes: ReadonlySet<Scope>; tokenId: number; registry?: RepositoryAccess[]; limit: AccessLimit; via?: Origin };
// `registry`: present when the actor came from a registry token (Docker token auth); it narrows what the
// actor may do to the repository actions granted when the token was issued.

export const anonymous: Actor = Object.freeze({ kind: 'anonymous' });

/** Every scope: what a password or a web session carries (the person themself). */
export const ALL_SCOPES: ReadonlySet<Scope> = new Set<Scope>(SCOPES);

/** The `wharf` CLI's actor. */
export const systemActor: Actor = Object.freeze({ kind: 'system', scopes: ALL_SCOPES, via: { credential: 'system' } }) as Actor;

/** The display name of an actor (npm whoami, audit fields). */
export function actorName(a: Actor): string | null {
  if (a.kind === 'user') return a.user.name;
  if (a.kind === 'job') return `job:${a.repositoryName}`;
  if (a.kind === 'publisher') return a.name;
  if (a.kind === 'system') return null;
  return null;
}

/** The credential kind an actor was authenticated with (its `via`, else inferred). */
export function credentialOf(a: Actor): Origin['credential'] {
  if (a.via) return a.via.credential;
  if (a.kind === 'anonymous') return 'anonymous';
  if (a.kind === 'system') return 'system';
  if (a.registry) return 'registry';
  if (a.kind === 'job') return 'job';
  if (a.kind === 'publisher') return 'oidc';
  return a.tokenId != null ? 'token' : 'password';
}

/**
 * A key naming what an actor may see, for caches of access decisions: the same key means the same answers.
 * A credential narrowed by a registry token or a fine-grained limit sees less than its person: its own key.
 */
export function accessKey(a: Actor): string {
  if (a.kind === 'anonymous') return 'a';
  if (a.kind === 'system') return 's';
  const narrowed = a.registry || a.limit ? `:t${a.tokenId}:${a.registry ? JSON.stringify(a.registry) : ''}` : '';
  if (a.kind === 'user') return `u${a.user.id}:${a.user.isAdmin ? 1 : 0}${narrowed}`;
  if (a.kind === 'job') return `j${a.repositoryId}${narrowed}`;
  return `p${a.tokenId}${narrowed}`;
}
