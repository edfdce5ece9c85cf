// The NuGet v3 documents, built from the model: service index, flat-container version list, registration
// leaves (the paged index is in registration.ts), search and autocomplete results.
import type { Nuspec } from './nuspec.ts';
import { compareVersions, isPrerelease } from './versions.ts';

/**
 * What a version's `metadata` holds (written at push, `listed` flipped by unlist/relist): the .nuspec's fields,
 * with the version normalized, the license and repository flattened, the README as text, and the package facts.
 */
export type NuGetVersionMeta = Omit<Nuspec, 'version' | 'license' | 'repository'> & {
  /** Normalized, prerelease case kept. */
  version: string;
  /** As written in the .nuspec. */
  originalVersion: string;
  listed: boolean;
  semVer2: boolean;
  licenseExpression?: string;
  licenseFile?: string;
  repositoryUrl?: string;
  frameworks: string[];
  /** base64 SHA-512 of the .nupkg (NuGet's packageHash). */
  sha512: string;
  size: number;
};

export interface NuGetVersionRow {
  meta: NuGetVersionMeta;
  createdAt: string;
  downloads: number;
}

/** The URLs of one owner's source (`base` = BASE/nuget/OWNER). */
export class Urls {
  /** `hive`: registration documents exclude SemVer 2.0.0 versions; registration-semver2 ones include them. */
  constructor(readonly base: string, readonly hive: 'registration' | 'registration-semver2' = 'registration') {}
  inHive(hive: Urls['hive']) { return new Urls(this.base, hive); }
  get publish() { return `${this.base}/api/v2/package`; }
  get symbolPublish() { return `${this.base}/api/v2/symbolpackage`; }
  get flat() { return `${this.base}/v3/flat/`; }
  get registration() { return `${this.base}/v3/${this.hive}/`; }
  get search() { return `${this.base}/v3/search`; }
  get autocomplete() { return `${this.base}/v3/autocomplete`; }
  regIndex(id: string) { return `${this.registration}${id.toLowerCase()}/index.json`; }
  regLeaf(id: string, v: string) { return `${this.registration}${id.toLowerCase()}/${v.toLowerCase()}.json`; }
  content(id: string, v: string) {
    const l = id.toLowerCase();
    const lv = v.toLowerCase();
    return `${this.flat}${l}/${lv}/${l}.${lv}.nupkg`;
  }
}

/** The service index. nuget.exe 5.8 needs a RegistrationsBaseUrl variant it knows (3.0.0-beta, 3.4.0, Versioned). */
export function serviceIndex(u: Urls) {
  const r = (id: string, type: string, comment: string) => ({ '@id': id, '@type': type, comment });
  return {
    version: '3.0.0',
    resources: [
      r(u.publish, 'PackagePublish/2.0.0', 'Push (PUT multipart), delete = unlist (DELETE {id}/{version}), relist (POST {id}/{version})'),
      r(u.symbolPublish, 'SymbolPackagePublish/4.9.0', 'Push a .snupkg (PUT multipart) for a pushed version; symbols are served at ../symbols/{file.pdb}/{key}/{file.pdb}'),
      r(u.flat, 'PackageBaseAddress/3.0.0', 'Flat container: {id}/index.json, {id}/{version}/{id}.{version}.nupkg and .nuspec'),
      // As nuget.org: the legacy variants name a hive without SemVer 2.0.0 versions, 3.6.0 and Versioned one with them.
      ...['RegistrationsBaseUrl', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.4.0'].map((t) =>
        r(u.inHive('registration').registration, t, 'Package metadata: {id}/index.json (SemVer 2.0.0 versions excluded)'),
      ),
      r(u.inHive('registration-semver2').registration, 'RegistrationsBaseUrl/3.6.0', 'Package metadata: {id}/index.json (SemVer 2.0.0 versions included)'),
      { ...r(u.inHive('registration-semver2').registration, 'RegistrationsBaseUrl/Versioned', 'Package metadata: {id}/index.json (SemVer 2.0.0 versions included)'), clientVersion: '4.3.0-alpha' },
      ...['SearchQueryService', 'SearchQueryService/3.0.0-beta', 'SearchQueryService/3.0.0-rc', 'SearchQueryService/3.5.0'].map((t) => r(u.search, t, 'Search')),
      ...['SearchAutocompleteService', 'SearchAutocompleteService/3.0.0-beta', 'SearchAutocompleteService/3.0.0-rc', 'SearchAutocompleteService/3.5.0'].map((t) => r(u.autocomplete, t, 'Autocomplete')),
    ],
  };
}

export const sortVersions = (vs: NuGetVersionRow[]) => [...vs].sort((a, b) => compareVersions(a.meta.version, b.meta.version));

function catalogEntry(u: Urls, id: string, v: NuGetVersionRow) {
  const m = v.meta;
  return {
    '@id': u.regLeaf(id, m.version),
    '@type': 'PackageDetails',
    id,
    version: m.version,
    title: m.title ?? '',
    authors: m.authors,
    description: m.description,
    summary: m.summary ?? '',
    tags: m.tags,
    language: m.language ?? '',
    projectUrl: m.projectUrl ?? '',
    iconUrl: m.iconUrl ?? '',
    licenseUrl: m.licenseUrl ?? '',
    licenseExpression: m.licenseExpression ?? '',
    requireLicenseAcceptance: m.requireLicenseAcceptance,
    minClientVersion: m.minClientVersion ?? '',
    listed: m.listed,
    // nuget.org marks unlisted versions with a 1900 publish date; older clients read that instead of `listed`.
    published: m.listed ? v.createdAt : '1900-01-01T00:00:00Z',
    packageContent: u.content(id, m.version),
    dependencyGroups: m.dependencyGroups.map((g, gi) => ({
      '@id': `${u.regLeaf(id, m.version)}#dependencygroup/${gi}`,
      '@type': 'PackageDependencyGroup',
      ...(g.targetFramework ? { targetFramework: g.targetFramework } : {}),
      dependencies: g.dependencies.map((d) => ({
        '@id': `${u.regLeaf(id, m.version)}#dependencygroup/${gi}/${d.id.toLowerCase()}`,
        '@type': 'PackageDependency',
        id: d.id,
        range: d.range,
        registration: u.regIndex(d.id),
      })),
    })),
  };
}

/** A registration leaf as a page lists it. */
export function registrationItem(u: Urls, id: string, v: NuGetVersionRow) {
  return {
    '@id': u.regLeaf(id, v.meta.version),
    '@type': 'Package',
    commitTimeStamp: v.createdAt,
    catalogEntry: catalogEntry(u, id, v),
    packageContent: u.content(id, v.meta.version),
    registration: u.regIndex(id),
  };
}

/** A registration leaf (the document a leaf's @id names). */
export function registrationLeaf(u: Urls, id: string, v: NuGetVersionRow) {
  return {
    '@id': u.regLeaf(id, v.meta.version),
    '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
    catalogEntry: u.regLeaf(id, v.meta.version),
    listed: v.meta.listed,
    published: v.meta.listed ? v.createdAt : '1900-01-01T00:00:00Z',
    packageContent: u.content(id, v.meta.version),
    registration: u.regIndex(id),
  };
}

export interface SearchFilter {
  prerelease: boolean;
  semVer2: boolean;
}

/** The versions a search shows: listed, and prerelease / SemVer 2 only when the client asks for them. */
export function visibleVersions(vs: NuGetVersionRow[], f: SearchFilter): NuGetVersionRow[] {
  return sortVersions(vs.filter((v) => v.meta.listed && (f.prerelease || !isPrerelease(v.meta.version)) && (f.semVer2 || !v.meta.semVer2)));
}

/** One search result: the package at its latest visible version, with every visible version. */
export function searchResult(u: Urls, id: string, vs: NuGetVersionRow[]) {
  const latest = vs.at(-1)!.meta;
  return {
    '@id': u.regIndex(id),
    '@type': 'Package',
    registration: u.regIndex(id),
    id,
    version: latest.version,
    description: latest.description,
    summary: latest.summary ?? '',
    title: latest.title ?? id,
    iconUrl: latest.iconUrl ?? '',
    licenseUrl: latest.licenseUrl ?? '',
    projectUrl: latest.projectUrl ?? '',
    tags: latest.tags,
    authors: latest.authors.split(',').map((a) => a.trim()).filter(Boolean),
    owners: (latest.owners ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    totalDownloads: vs.reduce((n, v) => n + v.downloads, 0),
    verified: false,
    packageTypes: (latest.packageTypes.length ? latest.packageTypes : ['Dependency']).map((name) => ({ name })),
    versions: vs.map((v) => ({ version: v.meta.version, downloads: v.downloads, '@id': u.regLeaf(id, v.meta.version) })),
  };
}
