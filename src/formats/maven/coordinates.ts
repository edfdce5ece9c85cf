// The Maven repository layout, parsed strictly at the edge (this file owns it):
//   GROUP/PATH/ARTIFACT/VERSION/ARTIFACT-VERSION[-CLASSIFIER].EXT   a file of a version
//   GROUP/PATH/ARTIFACT/maven-metadata.xml                            artifact level: versions
//   GROUP/PATH/ARTIFACT/V-SNAPSHOT/maven-metadata.xml                 snapshot version level: builds
// each with optional .md5 / .sha1 / .sha256 / .sha512. A SNAPSHOT's files are ARTIFACT-V-yyyyMMdd.HHmmss-N…
// (unique, what Maven 3 and Gradle write) or ARTIFACT-V-SNAPSHOT… (legacy non-unique).
// Only Maven's own characters are accepted, so no name can reach a path outside its place or confuse a parser.
import { invalid } from '../../core/errors.ts';

export const CHECKSUMS = ['md5', 'sha1', 'sha256', 'sha512'] as const;
export type ChecksumAlgo = (typeof CHECKSUMS)[number];
export const METADATA = 'maven-metadata.xml';

export type MavenPath =
  | { kind: 'file'; groupId: string; artifactId: string; version: string; file: string; checksum: ChecksumAlgo | null }
  | { kind: 'artifact-metadata'; groupId: string; artifactId: string; checksum: ChecksumAlgo | null }
  | { kind: 'version-metadata'; groupId: string; artifactId: string; version: string; checksum: ChecksumAlgo | null };

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const FILE = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}$/;

export const isSnapshot = (version: string) => version.endsWith('-SNAPSHOT');

/** The package name of a coordinate: `groupId:artifactId`. */
export const packageName = (groupId: string, artifactId: string) => `${groupId}:${artifactId}`;

/** Splits `groupId:artifactId` back (the package name is exactly that). */
export function splitPackageName(name: string): { groupId: string; artifactId: string } {
  const i = name.lastIndexOf(':');
  return { groupId: name.slice(0, i), artifactId: name.slice(i + 1) };
}

function checkSegment(s: string, what: string): string {
  if (!SEGMENT.test(s) || s.includes('..')) throw invalid(`invalid ${what} "${s}"`);
  return s;
}

export function checkVersion(v: string): string {
  if (!VERSION.test(v) || v.includes('..')) throw invalid(`invalid version "${v}"`);
  return v;
}

/**
 * The URL path below the repository root, split into segments. Percent-escapes, backslashes, empty segments
 * and dot segments are refused outright: Maven coordinates never need them, and each is a traversal trick.
 */
export function splitRawPath(raw: string): string[] {
  if (raw.length > 2048) throw invalid('path too long');
  if (/[%\\\x00-\x20\x7f]/.test(raw)) throw invalid('invalid characters in path');
  const segs = raw.split('/');
  if (segs.at(-1) === '') segs.pop();
  for (const s of segs) if (s === '' || s === '.' || s === '..') throw invalid('empty or dot segment in path');
  return segs;
}

/** Parses the segments below a repository root (OWNER/REPO or OWNER) into a typed Maven path. */
export function parseMavenPath(segs: string[]): MavenPath {
  if (segs.length < 3) throw invalid('a Maven path needs at least GROUP/ARTIFACT/FILE');
  let last = segs[segs.length - 1];
  if (!FILE.test(last) || last.includes('..')) throw invalid(`invalid file name "${last}"`);
  let checksum: ChecksumAlgo | null = null;
  for (const a of CHECKSUMS) {
    if (last.endsWith(`.${a}`) && last.length > a.length + 1) {
      checksum = a;
      last = last.slice(0, -(a.length + 1));
      break;
    }
  }
  const dirs = segs.slice(0, -1);
  if (last === METADATA) {
    const parent = dirs[dirs.length - 1];
    if (isSnapshot(parent)) {
      if (dirs.length < 3) throw invalid('snapshot metadata needs GROUP/ARTIFACT/VERSION');
      const version = checkVersion(parent);
      const artifactId = checkSegment(dirs[dirs.length - 2], 'artifactId');
      const groupId = dirs.slice(0, -2).map((s) => checkSegment(s, 'groupId')).join('.');
      return { kind: 'version-metadata', groupId, artifactId, version, checksum };
    }
    const artifactId = checkSegment(parent, 'artifactId');
    const groupId = dirs.slice(0, -1).map((s) => checkSegment(s, 'groupId')).join('.');
    return { kind: 'artifact-metadata', groupId, artifactId, checksum };
  }
  if (dirs.length < 3) throw invalid('a file path needs GROUP/ARTIFACT/VERSION/FILE');
  const version = checkVersion(dirs[dirs.length - 1]);
  const artifactId = checkSegment(dirs[dirs.length - 2], 'artifactId');
  if (isSnapshot(artifactId)) throw invalid(`invalid artifactId "${artifactId}"`);
  const groupId = dirs.slice(0, -2).map((s) => checkSegment(s, 'groupId')).join('.');
  parseFileName(artifactId, version, last);
  return { kind: 'file', groupId, artifactId, version, file: last, checksum };
}

export interface FileName {
  classifier: string | null;
  /** Everything after the first dot past the version and classifier: `jar`, `pom`, `jar.asc`, `tar.gz`. */
  extension: string;
  /** For unique snapshot files: `yyyyMMdd.HHmmss` and the build number. */
  build: { timestamp: string; number: number } | null;
}

const TAIL = /^(?:-([A-Za-z0-9_+-]+))?\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)$/;

/** Checks that `file` is a file of ARTIFACT at VERSION, and splits it into classifier, extension and build. */
export function parseFileName(artifactId: string, version: string, file: string): FileName {
  const bad = () => invalid(`file "${file}" is not a file of ${artifactId} ${version} (expected ${artifactId}-${version}[-classifier].ext)`);
  if (!file.startsWith(`${artifactId}-`)) throw bad();
  const rest = file.slice(artifactId.length + 1);
  let tail: string | null = null;
  let build: FileName['build'] = null;
  if (isSnapshot(version)) {
    const base = version.slice(0, -'-SNAPSHOT'.length);
    const m = /^-(\d{8}\.\d{6})-([1-9]\d{0,8})(?=[-.])/.exec(rest.slice(base.length));
    if (rest.startsWith(base) && m) {
      build = { timestamp: m[1], number: Number(m[2]) };
      tail = rest.slice(base.length + m[0].length);
    } else if (rest.startsWith(version)) tail = rest.slice(version.length);
  } else if (rest.startsWith(version)) tail = rest.slice(version.length);
  const t = tail === null ? null : TAIL.exec(tail);
  if (!t) throw bad();
  return { classifier: t[1] ?? null, extension: t[2], build };
}

/** Parses a checksum file's content: the hex digest, optionally followed by a file name (`sha1sum` style). */
export function parseChecksumBody(body: string, algo: ChecksumAlgo): string {
  const hex = body.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  const len = { md5: 32, sha1: 40, sha256: 64, sha512: 128 }[algo];
  if (hex.length !== len || !/^[0-9a-f]+$/.test(hex)) throw invalid(`not a ${algo} checksum`);
  return hex;
}
