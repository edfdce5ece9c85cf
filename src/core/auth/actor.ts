// Who is making a request, as every format and the REST API see it.
import type { RepositoryAccess } from './registry-tokens.ts';
import { SCOPES, type Scope } from './tokens.ts';

export interface UserRef {
  id: number;
  name: string;
  isAdmin: boolean;
}

/** How a request proved who it is, and from where: recorded in the audit log. */
export interface Origin {
  credential: 'anonymous' | 'password' | 'token' | 'job' | 'registry' | 'session' | 'system';
  /** The client address (req.ip), when the actor came from an HTTP request. */
  ip?: string;
}

export type Actor =
  | { kind: 'anonymous'; via?: Origin }
  /** A person, through a personal token (scopes capped) or a password/session (all scopes). */
  | { kind: 'user'; user: UserRef; scopes: ReadonlySet<Scope>; tokenId: number | null; registry?: RepositoryAccess[]; via?: Origin }
  /** A CI job: bound to one repository, it writes that repository's packages and reads what it was granted. */
  /** The operator at the console (`wharf` CLI): holds the database, so may do anything. */
  | { kind: 'system'; scopes: ReadonlySet<Scope>; registry?: undefined; via?: Origin }
  | { kind: 'job'; repositoryId: number; repositoryOwnerId: number; repositoryName: string; scopes: ReadonlySet<Scope>; tokenId: number; registry?: RepositoryAccess[]; via?: Origin };
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
  return a.tokenId != null ? 'token' : 'password';
}
