// The generic format's URL layout, parsed once at the edge (paths.go-style: this file owns it):
//   /generic/OWNER/NAME/VERSION/FILE   one file of a version (PUT uploads it, GET/HEAD download it)
//   /generic/OWNER/NAME/VERSION        the version (DELETE soft-deletes it)
// Every segment is percent-decoded once and checked against a strict alphabet with a bounded length: no '/',
// no '..', no control or header-breaking characters, so a name is safe in a URL, a Content-Disposition header
// and a log line as it stands. File names never reach the file system (content lives in the blob store by digest).
import { checkOwnerName } from '../../core/names.ts';
import { invalid, notFound } from '../../core/errors.ts';

/** GitLab's and Gitea's rules, a little stricter: letters, digits, '.', '_', '-', starting with a letter or digit. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Versions as release tags spell them (`1.2.3`, `v2.0.0-rc.1+build.5`, `2026.12.07`). */
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$/;
/** File names as release assets spell them (`tool-1.2.3-linux-amd64.tar.gz`, `SHA256SUMS`, `app~x86.zip`). */
const FILE = /^[A-Za-z0-9_][A-Za-z0-9._+~-]{0,199}$/;
/** A URL longer than any valid path can be is refused before it is split. */
const MAX_PATH = 600;

export interface GenericPath {
  owner: string;
  name: string;
  version: string;
  /** Absent for the version itself. */
  file?: string;
}

function check(re: RegExp, value: string, what: string, rule: string): string {
  if (!re.test(value) || value.includes('..')) throw invalid(`invalid ${what} "${value.slice(0, 120)}": ${rule}`);
  return value;
}

export const checkPackageName = (name: string) => check(NAME, name, 'package name', "use letters, digits, '.', '_' and '-' (at most 100 characters, starting with a letter or digit, no '..')");
export const checkVersion = (version: string) => check(VERSION, version, 'version', "use letters, digits, '.', '+', '_' and '-' (at most 100 characters, starting with a letter or digit, no '..')");
export const checkFileName = (file: string) => check(FILE, file, 'file name', "use letters, digits, '.', '_', '-', '+' and '~' (at most 200 characters, not starting with '.', no '..')");

/**
 * The path below /generic/ (without the query) as typed segments. Not Found when it has the wrong shape
 * (nothing of the generic layout lives there), Invalid when a segment breaks its rule.
 */
export function parseGenericPath(raw: string): GenericPath {
  if (raw.length > MAX_PATH) throw invalid(`the path is longer than ${MAX_PATH} characters`);
  const parts = raw.split('/');
  if (parts.length < 3 || parts.length > 4) throw notFound('not a generic package path: use /generic/OWNER/NAME/VERSION/FILE');
  const seg = parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw invalid('the path is not valid percent-encoded UTF-8');
    }
  });
  let owner: string;
  try {
    owner = checkOwnerName(seg[0]);
  } catch {
    // An owner that cannot exist is an owner that does not exist.
    throw notFound(`no owner named "${seg[0].slice(0, 40)}"`);
  }
  const out: GenericPath = { owner, name: checkPackageName(seg[1]), version: checkVersion(seg[2]) };
  if (seg.length === 4) out.file = checkFileName(seg[3]);
  return out;
}
