// The NuGet v2 OData documents, as nuget.org's v2 feed served them to nuget.exe 2.x and PowerShellGet: the
// AtomPub service document, the $metadata EDMX (entity set Packages of V2FeedPackage, function imports Search,
// FindPackagesById and GetUpdates), Atom feeds and entries (m:properties, content src = the download URL), the
// $count text and OData's XML error. Every text goes through `esc`, which also drops characters XML 1.0 forbids.
import type { NuGetVersionMeta } from './documents.ts';
import type { NuGetRow } from './feed.ts';
import type { Row } from './v2-odata.ts';
import { isPrerelease } from './versions.ts';

const NS = {
  atom: 'http://www.w3.org/2005/Atom',
  app: 'http://www.w3.org/2007/app',
  d: 'http://schemas.microsoft.com/ado/2007/08/dataservices',
  m: 'http://schemas.microsoft.com/ado/2007/08/dataservices/metadata',
  edmx: 'http://schemas.microsoft.com/ado/2007/06/edmx',
  edm: 'http://schemas.microsoft.com/ado/2006/04/edm',
  scheme: 'http://schemas.microsoft.com/ado/2007/08/dataservices/scheme',
};
const XML_DECL = '<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n';
export const ENTITY_TYPE = 'NuGetGallery.OData.V2FeedPackage';

/** Escapes text and attribute values; drops the control characters and non-characters XML 1.0 cannot carry. */
export function esc(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The URLs of one owner's v2 feed (`base` = BASE/nuget/OWNER/api/v2, no trailing slash). */
export class V2Urls {
  constructor(readonly base: string) {}
  /** OData key literal: quotes doubled, then percent-encoded for the URL. */
  entry(id: string, version: string) {
    const lit = (s: string) => encodeURIComponent(s.replace(/'/g, "''")).replace(/'/g, '%27');
    return `${this.base}/Packages(Id='${lit(id)}',Version='${lit(version)}')`;
  }
  download(id: string, version: string) {
    return `${this.base}/package/${encodeURIComponent(id)}/${encodeURIComponent(version)}`;
  }
}

/** The AtomPub service document at /api/v2/: one collection, Packages. */
export function serviceDocument(u: V2Urls): string {
  return `${XML_DECL}<service xml:base="${esc(u.base)}/" xmlns="${NS.app}" xmlns:atom="${NS.atom}"><workspace><atom:title>Default</atom:title><collection href="Packages"><atom:title>Packages</atom:title></collection></workspace></service>`;
}

/** V2FeedPackage's properties and their EDM types, in nuget.org's order. */
const PROPS: [string, string, boolean?][] = [
  ['Id', 'Edm.String'], ['Version', 'Edm.String'], ['NormalizedVersion', 'Edm.String', true], ['Authors', 'Edm.String', true],
  ['Copyright', 'Edm.String', true], ['Created', 'Edm.DateTime'], ['Dependencies', 'Edm.String', true], ['Description', 'Edm.String', true],
  ['DownloadCount', 'Edm.Int32'], ['GalleryDetailsUrl', 'Edm.String', true], ['IconUrl', 'Edm.String', true], ['IsLatestVersion', 'Edm.Boolean'],
  ['IsAbsoluteLatestVersion', 'Edm.Boolean'], ['IsPrerelease', 'Edm.Boolean'], ['Language', 'Edm.String', true], ['LastUpdated', 'Edm.DateTime'],
  ['Published', 'Edm.DateTime'], ['PackageHash', 'Edm.String', true], ['PackageHashAlgorithm', 'Edm.String', true], ['PackageSize', 'Edm.Int64'],
  ['ProjectUrl', 'Edm.String', true], ['ReportAbuseUrl', 'Edm.String', true], ['ReleaseNotes', 'Edm.String', true], ['RequireLicenseAcceptance', 'Edm.Boolean'],
  ['Summary', 'Edm.String', true], ['Tags', 'Edm.String', true], ['Title', 'Edm.String', true], ['VersionDownloadCount', 'Edm.Int32'],
  ['MinClientVersion', 'Edm.String', true], ['LastEdited', 'Edm.DateTime', true], ['LicenseUrl', 'Edm.String', true], ['LicenseNames', 'Edm.String', true],
  ['LicenseReportUrl', 'Edm.String', true], ['Listed', 'Edm.Boolean'],
];

/** The EDMX at /api/v2/$metadata. nuget.exe 2.x reads it to learn which functions (FunctionImport) and properties the feed has. */
export function metadataDocument(): string {
  const prop = ([name, type, nullable]: [string, string, boolean?]) => `<Property Name="${name}" Type="${type}" Nullable="${nullable ? 'true' : 'false'}" />`;
  const param = (name: string, type: string) => `<Parameter Name="${name}" Type="${type}" Mode="In" />`;
  const fn = (name: string, params: string) => `<FunctionImport Name="${name}" ReturnType="Collection(${ENTITY_TYPE})" EntitySet="Packages" m:HttpMethod="GET">${params}</FunctionImport>`;
  return (
    XML_DECL +
    `<edmx:Edmx Version="1.0" xmlns:edmx="${NS.edmx}"><edmx:DataServices xmlns:m="${NS.m}" m:DataServiceVersion="2.0" m:MaxDataServiceVersion="2.0">` +
    `<Schema Namespace="NuGetGallery.OData" xmlns="${NS.edm}"><EntityType Name="V2FeedPackage" m:HasStream="true">` +
    `<Key><PropertyRef Name="Id" /><PropertyRef Name="Version" /></Key>${PROPS.map(prop).join('')}</EntityType></Schema>` +
    `<Schema Namespace="NuGetGallery" xmlns="${NS.edm}"><EntityContainer Name="V2FeedContext" m:IsDefaultEntityContainer="true">` +
    `<EntitySet Name="Packages" EntityType="${ENTITY_TYPE}" />` +
    fn('Search', param('searchTerm', 'Edm.String') + param('targetFramework', 'Edm.String') + param('includePrerelease', 'Edm.Boolean')) +
    fn('FindPackagesById', param('id', 'Edm.String')) +
    fn('GetUpdates', param('packageIds', 'Edm.String') + param('versions', 'Edm.String') + param('includePrerelease', 'Edm.Boolean') +
      param('includeAllVersions', 'Edm.Boolean') + param('targetFrameworks', 'Edm.String') + param('versionConstraints', 'Edm.String')) +
    `</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`
  );
}

/** One version as the feed shows it: the package's display id, the version, and the package-level facts. */
export interface V2Entry {
  id: string;
  row: NuGetRow;
  isLatest: boolean;
  isAbsoluteLatest: boolean;
  /** All versions' downloads together (DownloadCount). */
  packageDownloads: number;
}

/** nuget.org marks unlisted versions with this publish date; 2.x clients read it instead of `Listed`. */
const UNLISTED = '1900-01-01T00:00:00Z';
const date = (s: string) => {
  const d = new Date(s.includes('T') || s.includes('Z') ? s : `${s.replace(' ', 'T')}Z`);
  return Number.isNaN(d.getTime()) ? s : d.toISOString();
};

/** Dependencies as v2 spells them: `id:range:tfm` joined by `|`; a group without dependencies is `::tfm`. */
export function dependenciesString(m: NuGetVersionMeta): string {
  const range = (r: string) => (r === '(, )' ? '' : r);
  return m.dependencyGroups
    .flatMap((g) => (g.dependencies.length ? g.dependencies.map((d) => `${d.id}:${range(d.range)}:${g.targetFramework}`) : [`::${g.targetFramework}`]))
    .join('|');
}

/** The values of an entry that $filter and $orderby may name, and the feed shows. */
export function entryValues(e: V2Entry): Row {
  const m = e.row.meta;
  const created = date(e.row.createdAt);
  return {
    Id: e.id, Version: m.version, NormalizedVersion: m.version, Title: m.title ?? e.id, Description: m.description, Summary: m.summary ?? null,
    Tags: m.tags.join(' '), Authors: m.authors, Published: m.listed ? created : UNLISTED, Created: created, LastUpdated: created,
    IsLatestVersion: e.isLatest, IsAbsoluteLatestVersion: e.isAbsoluteLatest, IsPrerelease: isPrerelease(m.version), Listed: m.listed,
    RequireLicenseAcceptance: m.requireLicenseAcceptance, DownloadCount: e.packageDownloads, VersionDownloadCount: e.row.downloads, PackageSize: m.size,
  };
}

function property(name: string, type: string, v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return `<d:${name} m:null="true" />`;
  const t = type === 'Edm.String' ? '' : ` m:type="${type}"`;
  return `<d:${name}${t}>${esc(String(v))}</d:${name}>`;
}

function entryBody(u: V2Urls, e: V2Entry): string {
  const m = e.row.meta;
  const v = entryValues(e);
  const values: Record<string, string | number | boolean | null | undefined> = {
    ...v, Authors: m.authors, Copyright: null, Dependencies: dependenciesString(m), GalleryDetailsUrl: null, IconUrl: m.iconUrl, Language: m.language,
    PackageHash: m.sha512, PackageHashAlgorithm: 'SHA512', ProjectUrl: m.projectUrl, ReportAbuseUrl: null, ReleaseNotes: m.releaseNotes,
    MinClientVersion: m.minClientVersion, LastEdited: null, LicenseUrl: m.licenseUrl, LicenseNames: m.licenseExpression, LicenseReportUrl: null,
  };
  const self = u.entry(e.id, m.version);
  return (
    `<id>${esc(self)}</id>` +
    `<category term="${ENTITY_TYPE}" scheme="${NS.scheme}" />` +
    `<link rel="edit" title="V2FeedPackage" href="${esc(self)}" />` +
    `<link rel="self" title="V2FeedPackage" href="${esc(self)}" />` +
    `<title type="text">${esc(e.id)}</title>` +
    `<summary type="text">${esc(m.summary ?? '')}</summary>` +
    `<updated>${v.LastUpdated}</updated>` +
    `<author><name>${esc(m.authors)}</name></author>` +
    `<link rel="edit-media" title="V2FeedPackage" href="${esc(self)}/$value" />` +
    `<content type="application/zip" src="${esc(u.download(e.id, m.version))}" />` +
    `<m:properties>${PROPS.map(([name, type]) => property(name, type, values[name])).join('')}</m:properties>`
  );
}

const nsAttrs = (u: V2Urls) => `xml:base="${esc(u.base)}/" xmlns="${NS.atom}" xmlns:d="${NS.d}" xmlns:m="${NS.m}"`;

/** A single entry document (Packages(Id=,Version=)). */
export function entryDocument(u: V2Urls, e: V2Entry): string {
  return `${XML_DECL}<entry ${nsAttrs(u)}>${entryBody(u, e)}</entry>`;
}

/** A feed: `title` names the set or function, `count` is $inlinecount's total, `next` the next page's URL. */
export function feedDocument(u: V2Urls, title: string, entries: V2Entry[], opts: { count?: number; next?: string; now?: Date } = {}): string {
  const now = (opts.now ?? new Date()).toISOString();
  return (
    `${XML_DECL}<feed ${nsAttrs(u)}>` +
    (opts.count !== undefined ? `<m:count>${opts.count}</m:count>` : '') +
    `<id>${esc(`${u.base}/${title}`)}</id><title type="text">${esc(title)}</title><updated>${now}</updated>` +
    `<link rel="self" title="${esc(title)}" href="${esc(title)}" />` +
    entries.map((e) => `<entry>${entryBody(u, e)}</entry>`).join('') +
    (opts.next ? `<link rel="next" href="${esc(opts.next)}" />` : '') +
    `</feed>`
  );
}

/** OData's error document. */
export function errorDocument(message: string, code = ''): string {
  return `${XML_DECL}<m:error xmlns:m="${NS.m}"><m:code>${esc(code)}</m:code><m:message xml:lang="en-US">${esc(message)}</m:message></m:error>`;
}
