// maven-metadata.xml, derived from the model only (never from what a client uploaded), so it always lists exactly
// the live versions and files: the artifact level (versions, latest, release) and the snapshot version level
// (the newest build's timestamp and number, and the newest value of every classifier/extension).
import { parseFileName } from './coordinates.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `yyyyMMddHHmmss` in UTC, Maven's lastUpdated format, from an ISO timestamp. */
export function lastUpdatedOf(iso: string): string {
  return iso.replace(/[-:T]/g, '').slice(0, 14);
}

/** The artifact-level document. `versions` oldest first (deploy order, as Maven itself appends them). */
export function artifactMetadata(m: { groupId: string; artifactId: string; versions: string[]; lastUpdated: string }): string {
  const latest = m.versions.at(-1);
  const release = m.versions.filter((v) => !v.endsWith('-SNAPSHOT')).at(-1);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<metadata>\n' +
    `  <groupId>${esc(m.groupId)}</groupId>\n` +
    `  <artifactId>${esc(m.artifactId)}</artifactId>\n` +
    '  <versioning>\n' +
    (latest ? `    <latest>${esc(latest)}</latest>\n` : '') +
    (release ? `    <release>${esc(release)}</release>\n` : '') +
    '    <versions>\n' +
    m.versions.map((v) => `      <version>${esc(v)}</version>\n`).join('') +
    '    </versions>\n' +
    `    <lastUpdated>${m.lastUpdated}</lastUpdated>\n` +
    '  </versioning>\n' +
    '</metadata>\n'
  );
}

export interface SnapshotFile {
  name: string;
  createdAt: string;
}

/** The newest build of a snapshot version among its files (null when it only has non-unique files). */
export function latestBuild(artifactId: string, version: string, files: SnapshotFile[]): { timestamp: string; number: number } | null {
  let best: { timestamp: string; number: number } | null = null;
  for (const f of files) {
    const b = safeParse(artifactId, version, f.name)?.build;
    if (b && (!best || b.number > best.number)) best = b;
  }
  return best;
}

function safeParse(artifactId: string, version: string, name: string) {
  try {
    return parseFileName(artifactId, version, name);
  } catch {
    return null;
  }
}

/** The snapshot version-level document (modelVersion 1.1.0, with snapshotVersions). */
export function snapshotMetadata(m: { groupId: string; artifactId: string; version: string; files: SnapshotFile[] }): string {
  const base = m.version.slice(0, -'-SNAPSHOT'.length);
  const newest = new Map<string, { classifier: string | null; extension: string; value: string; updated: string; rank: number }>();
  let lastUpdated = '';
  for (const f of m.files) {
    const p = safeParse(m.artifactId, m.version, f.name);
    if (!p) continue;
    const updated = p.build ? p.build.timestamp.replace('.', '') : lastUpdatedOf(f.createdAt);
    if (updated > lastUpdated) lastUpdated = updated;
    const value = p.build ? `${base}-${p.build.timestamp}-${p.build.number}` : m.version;
    const rank = p.build ? p.build.number : 0;
    const key = `${p.classifier ?? ''}|${p.extension}`;
    const prev = newest.get(key);
    if (!prev || rank > prev.rank) newest.set(key, { classifier: p.classifier, extension: p.extension, value, updated, rank });
  }
  const build = latestBuild(m.artifactId, m.version, m.files);
  const entries = [...newest.values()].sort((a, b) => (a.extension + (a.classifier ?? '')).localeCompare(b.extension + (b.classifier ?? '')));
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<metadata modelVersion="1.1.0">\n' +
    `  <groupId>${esc(m.groupId)}</groupId>\n` +
    `  <artifactId>${esc(m.artifactId)}</artifactId>\n` +
    `  <version>${esc(m.version)}</version>\n` +
    '  <versioning>\n' +
    '    <snapshot>\n' +
    (build ? `      <timestamp>${build.timestamp}</timestamp>\n      <buildNumber>${build.number}</buildNumber>\n` : '      <localCopy>false</localCopy>\n') +
    '    </snapshot>\n' +
    `    <lastUpdated>${lastUpdated || '19700101000000'}</lastUpdated>\n` +
    '    <snapshotVersions>\n' +
    entries
      .map(
        (e) =>
          '      <snapshotVersion>\n' +
          (e.classifier ? `        <classifier>${esc(e.classifier)}</classifier>\n` : '') +
          `        <extension>${esc(e.extension)}</extension>\n` +
          `        <value>${esc(e.value)}</value>\n` +
          `        <updated>${e.updated}</updated>\n` +
          '      </snapshotVersion>\n',
      )
      .join('') +
    '    </snapshotVersions>\n' +
    '  </versioning>\n' +
    '</metadata>\n'
  );
}
