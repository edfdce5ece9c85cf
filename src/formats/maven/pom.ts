// POMs and client-sent maven-metadata.xml, parsed without DTDs or entities (no XXE, no entity expansion: a
// document declaring a DOCTYPE or ENTITY is refused before parsing) and only ever from a bounded buffer.
import { XMLParser } from 'fast-xml-parser';
import { invalid } from '../../core/errors.ts';

export const MAX_POM = 2 * 1024 * 1024;
export const MAX_METADATA = 1024 * 1024;

const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: true,
});

/** Parses a small XML document; refuses DOCTYPE and ENTITY declarations outright. */
export function parseXml(buf: Buffer, what: string): Record<string, unknown> {
  const text = buf.toString('utf8');
  if (/<!(DOCTYPE|ENTITY)/i.test(text)) throw invalid(`${what} must not declare a DOCTYPE or entities`);
  try {
    const doc = parser.parse(text, true) as unknown;
    if (!doc || typeof doc !== 'object') throw new Error('empty');
    return doc as Record<string, unknown>;
  } catch {
    throw invalid(`${what} is not well-formed XML`);
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= 4096 ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export interface PomFacts {
  groupId?: string;
  artifactId?: string;
  version?: string;
  packaging?: string;
  name?: string;
  description?: string;
  url?: string;
  scmUrl?: string;
  licenses: { name?: string; url?: string }[];
}

/** The coordinates and descriptive facts of a POM (groupId and version fall back to the parent's). */
export function parsePom(buf: Buffer): PomFacts {
  const doc = parseXml(buf, 'the POM');
  if (!('project' in doc)) throw invalid('the POM has no <project> element');
  const p = obj(doc.project);
  const parent = obj(p.parent);
  const lic = obj(p.licenses).license;
  const licenses = (Array.isArray(lic) ? lic : lic ? [lic] : []).map((l) => ({ name: str(obj(l).name), url: str(obj(l).url) })).slice(0, 20);
  return {
    groupId: str(p.groupId) ?? str(parent.groupId),
    artifactId: str(p.artifactId),
    version: str(p.version) ?? str(parent.version),
    packaging: str(p.packaging),
    name: str(p.name),
    description: str(p.description),
    url: str(p.url),
    scmUrl: str(obj(p.scm).url),
    licenses,
  };
}

/** Checks that a POM names the coordinates of the path it was uploaded to (properties like ${revision} are not checked). */
export function checkPomCoordinates(pom: PomFacts, want: { groupId: string; artifactId: string; version: string }): void {
  for (const k of ['groupId', 'artifactId', 'version'] as const) {
    const got = pom[k];
    if (got === undefined) {
      if (k === 'artifactId') throw invalid('the POM has no artifactId');
      continue;
    }
    if (got.includes('${')) continue;
    if (got !== want[k]) throw invalid(`the POM's ${k} "${got}" does not match the path's "${want[k]}"`);
  }
}

/** Checks a client's maven-metadata.xml: well-formed, and about this groupId/artifactId when it says. */
export function checkClientMetadata(buf: Buffer, want: { groupId: string; artifactId: string }): void {
  const doc = parseXml(buf, 'maven-metadata.xml');
  if (!('metadata' in doc)) throw invalid('maven-metadata.xml has no <metadata> element');
  const m = obj(doc.metadata);
  const g = str(m.groupId);
  const a = str(m.artifactId);
  // Group-level (plugin prefix) metadata names neither.
  if (g !== undefined && a !== undefined && (g !== want.groupId || a !== want.artifactId)) {
    throw invalid(`maven-metadata.xml is about ${g}:${a}, not ${want.groupId}:${want.artifactId}`);
  }
}
