// The .nuspec manifest inside a .nupkg, parsed without DTDs or entities (an XML bomb or an external entity
// never reaches the parser: a document declaring either is refused before parsing).
import { XMLParser } from 'fast-xml-parser';
import { invalid } from '../../core/errors.ts';
import { checkId, normalizeRange, parseVersion } from './versions.ts';

export interface NuspecDependency {
  id: string;
  range: string;
}

export interface NuspecDependencyGroup {
  /** '' when the group applies to every framework. */
  targetFramework: string;
  dependencies: NuspecDependency[];
}

export interface Nuspec {
  id: string;
  /** As written in the .nuspec. */
  version: string;
  title?: string;
  authors: string;
  owners?: string;
  description: string;
  summary?: string;
  releaseNotes?: string;
  tags: string[];
  language?: string;
  projectUrl?: string;
  iconUrl?: string;
  /** Path of an embedded icon file. */
  icon?: string;
  licenseUrl?: string;
  /** An SPDX expression (`<license type="expression">`) or a file path (`type="file"`). */
  license?: { type: 'expression' | 'file'; value: string };
  /** Path of an embedded README. */
  readme?: string;
  repository?: { url?: string; type?: string; commit?: string };
  requireLicenseAcceptance: boolean;
  minClientVersion?: string;
  packageTypes: string[];
  dependencyGroups: NuspecDependencyGroup[];
}

export const MAX_NUSPEC_BYTES = 1024 * 1024;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => ['group', 'dependency', 'packageType'].includes(name),
});

/** The five predefined XML entities and character references: the only ones a .nuspec may use. */
function decode(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (_m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e];
  });
}

type Node = Record<string, unknown>;
const text = (v: unknown): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return decode(v);
  if (typeof v === 'object' && '#text' in (v as Node)) return decode(String((v as Node)['#text']));
  if (typeof v === 'object') return '';
  return String(v);
};
const attr = (v: unknown, name: string): string | undefined => (v && typeof v === 'object' && typeof (v as Node)[`@_${name}`] === 'string' ? decode((v as Node)[`@_${name}`] as string) : undefined);
const nodes = (v: unknown): Node[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is Node => typeof x === 'object' && x !== null);

function dependencies(list: unknown): NuspecDependency[] {
  return nodes(list).map((d) => {
    const id = attr(d, 'id') ?? '';
    checkId(id);
    return { id, range: normalizeRange(attr(d, 'version')) };
  });
}

/**
 * Parses a .nuspec document; throws Invalid on anything a client could not install from. `symbols`: the
 * .nuspec of a .snupkg, which `nuget pack` writes without <authors>; only its id and version matter.
 */
export function parseNuspec(xml: string, opts: { symbols?: boolean } = {}): Nuspec {
  if (xml.length > MAX_NUSPEC_BYTES) throw invalid('the .nuspec is too large');
  // No DTD, hence no entity: both are how XML parsers are attacked, and no .nuspec needs them.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw invalid('the .nuspec may not declare a DTD or entities');
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (e) {
    throw invalid(`the .nuspec is not well-formed XML: ${(e as Error).message}`);
  }
  const meta = nodes((nodes(doc.package)[0] ?? {}).metadata)[0];
  if (!meta) throw invalid('the .nuspec has no <package><metadata> element');
  const id = text(meta.id) ?? '';
  checkId(id);
  const version = text(meta.version) ?? '';
  if (!parseVersion(version)) throw invalid(`the .nuspec version "${version.slice(0, 140)}" is not a valid NuGet version`);
  const description = text(meta.description) ?? '';
  const authors = text(meta.authors) ?? '';
  if (!description && !opts.symbols) throw invalid('the .nuspec has no <description>');
  if (!authors && !opts.symbols) throw invalid('the .nuspec has no <authors>');

  const deps = nodes(meta.dependencies)[0];
  const dependencyGroups: NuspecDependencyGroup[] = [];
  if (deps) {
    for (const g of nodes(deps.group)) dependencyGroups.push({ targetFramework: attr(g, 'targetFramework') ?? '', dependencies: dependencies(g.dependency) });
    // Dependencies outside any group apply to every framework (the pre-2.0 layout).
    if (deps.dependency) dependencyGroups.push({ targetFramework: '', dependencies: dependencies(deps.dependency) });
  }
  const lic = meta.license;
  const licType = attr(lic, 'type');
  const repo = nodes(meta.repository)[0];
  const opt = (k: string) => text(meta[k]) || undefined;
  return {
    id,
    version,
    title: opt('title'),
    authors,
    owners: opt('owners'),
    description,
    summary: opt('summary'),
    releaseNotes: opt('releaseNotes'),
    tags: (text(meta.tags) ?? '').split(/[\s,;]+/).filter(Boolean),
    language: opt('language'),
    projectUrl: opt('projectUrl'),
    iconUrl: opt('iconUrl'),
    icon: opt('icon'),
    licenseUrl: opt('licenseUrl'),
    license: lic !== undefined && (licType === 'expression' || licType === 'file') ? { type: licType, value: text(lic) ?? '' } : undefined,
    readme: opt('readme'),
    repository: repo ? { url: attr(repo, 'url'), type: attr(repo, 'type'), commit: attr(repo, 'commit') } : undefined,
    requireLicenseAcceptance: text(meta.requireLicenseAcceptance) === 'true',
    minClientVersion: attr(nodes(doc.package)[0]?.metadata, 'minClientVersion'),
    packageTypes: nodes(nodes(meta.packageTypes)[0]?.packageType).map((p) => attr(p, 'name') ?? '').filter(Boolean),
    dependencyGroups,
  };
}
