// The selection of a fine-grained personal token: the owners, repositories and packages it is limited to, and
// how far it reaches on each. One text form for the CLI and the web form, one JSON form for the REST API:
//   OWNER[=REACH]               every package of the owner
//   OWNER/REPO[=REACH]          the packages linked to that repository
//   TYPE:OWNER/NAME[=REACH]     one package (npm's @scope/name is accepted as npm:@scope/name)
// REACH is read, write, delete or admin; without it a resource reaches as far as the token's package scopes go.
import { invalid } from '../errors.ts';
import { checkOwnerName, checkRepoName } from '../names.ts';
import { REACH_RANK, type Reach } from './actor.ts';
import type { Scope } from './tokens.ts';

export const REACHES = Object.keys(REACH_RANK) as Reach[];
/** At most this many resources per token: each one is matched on every request the token makes. */
export const MAX_RESOURCES = 100;

/** One resource of a selection as people name it (REST: `{ owner, repository?, package?: { type, name }, permission? }`). */
export interface ResourceSpec {
  owner: string;
  /** A repository of `owner`, by name. */
  repository?: string | null;
  /** One package of `owner`, by type (npm, container, maven, nuget, rubygems) and name as its format writes it. */
  package?: { type: string; name: string } | null;
  permission?: Reach | null;
}

const TYPE = /^[a-z][a-z0-9-]{0,31}$/;
// Names as the formats write them: npm names, image paths (a/b), Maven group:artifact, NuGet ids, gem names.
const NAME = /^[A-Za-z0-9@._~:+\-/]{1,300}$/;

/** The package type of a resource, checked as a word (the formats decide which exist). */
export function checkPackageType(type: string): string {
  if (!TYPE.test(type)) throw invalid(`invalid package type "${type}": a lowercase word such as npm, container, maven, nuget or rubygems`);
  return type;
}

/** A package name in a resource: what a format could call a package (no spaces, no control characters). */
export function checkPackageName(name: string): string {
  if (!NAME.test(name) || name.startsWith('/') || name.endsWith('/') || name.includes('//')) throw invalid(`invalid package name "${name}"`);
  return name;
}

export function checkReach(reach: string): Reach {
  if (!(REACHES as string[]).includes(reach)) throw invalid(`invalid permission "${reach}": use one of ${REACHES.join(', ')}`);
  return reach as Reach;
}

/** Parses one resource written as text (see the top of this file); throws Invalid on anything else. */
export function parseResource(text: string): ResourceSpec {
  if (typeof text !== 'string' || text.length > 500) throw invalid('a resource is OWNER, OWNER/REPO or TYPE:OWNER/NAME, optionally followed by =read, =write, =delete or =admin');
  let s = text.trim();
  let permission: Reach | undefined;
  const eq = s.lastIndexOf('=');
  if (eq >= 0) {
    permission = checkReach(s.slice(eq + 1).trim());
    s = s.slice(0, eq).trim();
  }
  const colon = s.indexOf(':');
  const slash = s.indexOf('/');
  if (colon > 0 && (slash < 0 || colon < slash)) {
    const type = checkPackageType(s.slice(0, colon));
    const rest = s.slice(colon + 1).replace(/^@/, '');
    const cut = rest.indexOf('/');
    if (cut <= 0) throw invalid(`a package is TYPE:OWNER/NAME, got "${s}"`);
    return { owner: checkOwnerName(rest.slice(0, cut)), package: { type, name: checkPackageName(rest.slice(cut + 1)) }, ...(permission ? { permission } : {}) };
  }
  if (slash >= 0) {
    const [owner, repo, ...more] = s.split('/');
    if (more.length) throw invalid(`a repository is OWNER/REPO, got "${s}" (a package is TYPE:OWNER/NAME)`);
    return { owner: checkOwnerName(owner), repository: checkRepoName(repo), ...(permission ? { permission } : {}) };
  }
  return { owner: checkOwnerName(s), ...(permission ? { permission } : {}) };
}

/** One resource written back as text (for the CLI list and the web page). */
export function formatResource(r: { owner: string; repository?: string | null; package?: { type: string; name: string } | null; permission?: Reach | null }): string {
  const what = r.package ? `${r.package.type}:${r.owner}/${r.package.name}` : r.repository ? `${r.owner}/${r.repository}` : r.owner;
  return r.permission ? `${what}=${r.permission}` : what;
}

/** How far a resource reaches when it does not say: as far as the token's package scopes go (never admin). */
export function defaultReach(scopes: ReadonlySet<Scope>): Reach {
  return scopes.has('delete:packages') ? 'delete' : scopes.has('write:packages') ? 'write' : 'read';
}

/** The package scope a reach needs to mean anything (admin: package settings, as authorize() asks write:packages). */
export const REACH_SCOPE: Record<Reach, Scope> = { read: 'read:packages', write: 'write:packages', delete: 'delete:packages', admin: 'write:packages' };

/** Refuses a package type no format serves (`types`: the formats' own list, which the core does not know). */
export function checkKnownTypes(specs: readonly ResourceSpec[], types: readonly string[]): void {
  for (const r of specs) if (r.package && !types.includes(r.package.type)) throw invalid(`unknown package type "${r.package.type}": use one of ${types.join(', ')}`);
}
