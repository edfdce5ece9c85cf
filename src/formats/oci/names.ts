// OCI names, tags and digests (distribution-spec grammar). A repository name is OWNER/NAME[/MORE]: the first
// component is the Wharf owner (user or org), the rest is the package name.
import { ociError } from './errors.ts';

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface OciName {
  owner: string;
  /** The package name: everything after the owner (`app`, `team/app`). */
  name: string;
  full: string;
}

export function parseOciName(full: string): OciName {
  const parts = full.split('/');
  if (full.length > 255 || parts.length < 2 || !parts.every((p) => COMPONENT.test(p))) {
    throw ociError('NAME_INVALID', `invalid repository name "${full}": use OWNER/NAME in lower case`);
  }
  return { owner: parts[0], name: parts.slice(1).join('/'), full };
}

export const isDigest = (ref: string) => DIGEST.test(ref);

/** A digest we can serve: sha256 only; other well-formed algorithms are UNSUPPORTED, anything else DIGEST_INVALID. */
export function checkDigest(d: string | undefined): string {
  if (d && DIGEST.test(d)) return d;
  if (d && ANY_DIGEST.test(d) && !d.startsWith('sha256:')) throw ociError('DIGEST_INVALID', `unsupported digest algorithm in "${d}": use sha256`);
  throw ociError('DIGEST_INVALID', `invalid digest "${d ?? ''}"`);
}

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) throw ociError('MANIFEST_INVALID', `invalid tag "${tag}"`);
  return tag;
}

/** A manifest reference: a tag or a digest. */
export function parseReference(ref: string): { digest: string } | { tag: string } {
  if (ref.includes(':')) return { digest: checkDigest(ref) };
  if (!TAG.test(ref)) throw ociError('NAME_INVALID', `invalid reference "${ref}"`);
  return { tag: ref };
}
