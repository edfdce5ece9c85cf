// Reads a .nupkg (a zip) safely from a byte range of a file: bounded entry count and declared and inflated
// sizes (yauzl holds every entry to its declared size, so the declared sum is checked against the cap and the
// compression ratio before anything is inflated), no absolute or `..` entry names (yauzl refuses them), exactly one .nuspec at the root. Only the
// .nuspec and the README are inflated, each bounded while streaming.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { invalid, tooLarge } from '../../core/errors.ts';
import { checkInflation, DEFAULT_INFLATION, type InflationLimits } from '../../core/inflation.ts';
import type { NuGetVersionMeta } from './documents.ts';
import { MAX_NUSPEC_BYTES, parseNuspec, type Nuspec } from './nuspec.ts';
import { isSemVer2 } from './versions.ts';

/** `maxUnpacked` and `maxRatio` bound the sum of the entries' declared uncompressed sizes. */
export interface NupkgLimits extends InflationLimits {
  maxEntries: number;
  maxReadme: number;
}
export const DEFAULT_NUPKG_LIMITS: NupkgLimits = { maxEntries: 20_000, maxReadme: 512 * 1024, ...DEFAULT_INFLATION };

/** An entry name's folder, percent-decoded as OPC stores it; a malformed escape is the package's error. */
export function decodeEntryPart(part: string, entry: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(`the .nupkg entry ${entry.slice(0, 300)} has a malformed %-escape`);
  }
}

/** Reads every entry header, checking the count, names and what they declare to inflate to against `length`. */
export function listEntries(zip: yauzl.ZipFile, length: number, limits: NupkgLimits, what: string): Promise<yauzl.Entry[]> {
  if (zip.entryCount > limits.maxEntries) return Promise.reject(invalid(`the ${what} has more than ${limits.maxEntries} entries`));
  const entries: yauzl.Entry[] = [];
  let inflated = 0;
  return new Promise<yauzl.Entry[]>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      inflated += e.uncompressedSize;
      try {
        checkInflation(inflated, length, limits, `the ${what}`);
      } catch (err) {
        return reject(err);
      }
      if (e.fileName.includes('\\')) return reject(invalid(`the ${what} entry ${e.fileName} has a backslash`));
      entries.push(e);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', (e: Error) => reject(invalid(`the ${what} is corrupt: ${e.message}`)));
    zip.readEntry();
  });
}

export interface NupkgFacts {
  nuspec: Nuspec;
  nuspecXml: Buffer;
  readme?: string;
  /** Target frameworks: those of dependency groups and of lib/, ref/ and build/ folders. */
  frameworks: string[];
  files: number;
}

export class RangeReader extends yauzl.RandomAccessReader {
  constructor(private readonly file: string, private readonly offset: number) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    return fs.createReadStream(this.file, { start: this.offset + start, end: this.offset + end - 1 });
  }
}

export function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (entry.uncompressedSize > max) return reject(tooLarge(`${entry.fileName} is larger than ${max} bytes`));
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) return reject(invalid(`cannot read ${entry.fileName}: ${err?.message}`));
      const chunks: Buffer[] = [];
      let n = 0;
      stream.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) stream.destroy(tooLarge(`${entry.fileName} is larger than ${max} bytes`));
        else chunks.push(c);
      });
      stream.on('error', (e) => reject(e instanceof Error && 'kind' in e ? e : invalid(`the .nupkg is corrupt: ${e.message}`)));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    });
  });
}

/** Inspects the .nupkg stored at `file` from `offset` for `length` bytes. */
export async function readNupkg(file: string, offset: number, length: number, limits: NupkgLimits = DEFAULT_NUPKG_LIMITS): Promise<NupkgFacts> {
  const reader = new RangeReader(file, offset);
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromRandomAccessReader(reader, length, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false }, (err, z) =>
      err || !z ? reject(invalid(`the upload is not a valid .nupkg (zip): ${err?.message}`)) : resolve(z),
    ),
  );
  try {
    const entries = await listEntries(zip, length, limits, '.nupkg');
    const specs = entries.filter((e) => !e.fileName.includes('/') && e.fileName.toLowerCase().endsWith('.nuspec'));
    if (specs.length !== 1) throw invalid(`a .nupkg holds exactly one .nuspec at its root (found ${specs.length})`);
    const nuspecXml = await readEntry(zip, specs[0], MAX_NUSPEC_BYTES);
    const nuspec = parseNuspec(nuspecXml.toString('utf8').replace(/^\uFEFF/, ''));
    let readme: string | undefined;
    if (nuspec.readme) {
      const want = nuspec.readme.replace(/\\/g, '/').replace(/^\/+/, '').toLowerCase();
      const e = entries.find((x) => x.fileName.toLowerCase() === want);
      if (!e) throw invalid(`the README ${nuspec.readme} named in the .nuspec is not in the package`);
      readme = (await readEntry(zip, e, limits.maxReadme)).toString('utf8');
    }
    const frameworks = new Set(nuspec.dependencyGroups.map((g) => g.targetFramework).filter(Boolean));
    for (const e of entries) {
      const m = /^(?:lib|ref|build|buildTransitive|contentFiles\/[^/]+)\/([^/]+)\//i.exec(e.fileName);
      if (m && m[1] !== 'any') frameworks.add(decodeEntryPart(m[1], e.fileName));
    }
    return { nuspec, nuspecXml, readme, frameworks: [...frameworks].sort(), files: entries.length };
  } finally {
    zip.close();
  }
}

/**
 * A version's metadata from its package's facts, as a push records it and a proxy records what it fetched:
 * `id` as the feed names the package, `version` normalized, `blob` the stored .nupkg (its sha512 and size).
 */
export function versionMeta(facts: NupkgFacts, o: { id: string; version: string; listed: boolean; blob: { size: number; extra: { sha512?: string } } }): NuGetVersionMeta {
  const spec = facts.nuspec;
  return {
    id: o.id, version: o.version, originalVersion: spec.version, listed: o.listed, semVer2: isSemVer2(spec.version),
    title: spec.title, authors: spec.authors, owners: spec.owners, description: spec.description, summary: spec.summary, releaseNotes: spec.releaseNotes,
    tags: spec.tags, language: spec.language, projectUrl: spec.projectUrl, iconUrl: spec.iconUrl, icon: spec.icon, licenseUrl: spec.licenseUrl,
    licenseExpression: spec.license?.type === 'expression' ? spec.license.value : undefined,
    licenseFile: spec.license?.type === 'file' ? spec.license.value : undefined,
    readme: facts.readme, repositoryUrl: spec.repository?.url, requireLicenseAcceptance: spec.requireLicenseAcceptance,
    minClientVersion: spec.minClientVersion, packageTypes: spec.packageTypes, dependencyGroups: spec.dependencyGroups, frameworks: facts.frameworks,
    sha512: Buffer.from(o.blob.extra.sha512 ?? '', 'hex').toString('base64'), size: o.blob.size,
  };
}
