// A gem's specification, from the YAML in its metadata.gz (`--- !ruby/object:Gem::Specification`).
// Psych tags Ruby objects (!ruby/object:Gem::Version, …); here only the RubyGems classes a gemspec holds are
// accepted, each read as a plain mapping, and every scalar stays a string (the failsafe schema): no object is
// constructed from the document, any other tag is refused, aliases are bounded (no "billion laughs").
import { parseDocument, type SchemaOptions } from 'yaml';
import { invalid } from '../../core/errors.ts';
import { checkGemName, checkGemVersion, checkPlatform } from './names.ts';

/** A requirement as [operator, version] pairs: [['>=', '1.0'], ['<', '2']]. */
export type Requirement = [string, string][];

export interface GemDependency {
  name: string;
  requirement: Requirement;
  type: 'runtime' | 'development';
}

export interface GemSpec {
  name: string;
  version: string;
  /** 'ruby' or a platform such as x86_64-linux. */
  platform: string;
  summary: string;
  description: string | null;
  authors: string[];
  email: string | string[] | null;
  homepage: string | null;
  licenses: string[];
  metadata: Record<string, string>;
  dependencies: GemDependency[];
  requiredRubyVersion: Requirement;
  requiredRubygemsVersion: Requirement;
  rubygemsVersion: string;
  specificationVersion: number;
  /** YYYY-MM-DD */
  date: string;
}

const RUBY_CLASSES = ['Gem::Specification', 'Gem::Version', 'Gem::Requirement', 'Gem::Dependency', 'Gem::Platform', 'Gem::Version::Requirement'];
const customTags: SchemaOptions['customTags'] = [
  ...RUBY_CLASSES.map((c) => ({ tag: `!ruby/object:${c}`, collection: 'map' as const, resolve: (m: unknown) => m })),
  // Psych writes strings that are not valid UTF-8 as !binary (base64).
  { tag: '!binary', resolve: (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'base64').toString('utf8') },
];

const OPERATORS = new Set(['=', '!=', '>', '<', '>=', '<=', '~>']);
const MAX_ITEMS = 10_000;

type Y = unknown;
const isMap = (v: Y): v is Record<string, Y> => !!v && typeof v === 'object' && !Array.isArray(v);
const str = (v: Y, what: string, max = 64 * 1024): string | null => {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw invalid(`gemspec: ${what} must be a string`);
  if (v.length > max) throw invalid(`gemspec: ${what} is too long`);
  return v;
};
const strList = (v: Y, what: string): string[] => {
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.length > MAX_ITEMS) throw invalid(`gemspec: ${what} must be a list of strings`);
  return v.map((x) => str(x, what) ?? '');
};

function versionOf(v: Y, what: string): string {
  const s = isMap(v) ? v.version : v;
  if (typeof s !== 'string' || !/^[0-9]+(\.[0-9A-Za-z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/.test(s.trim()) || s.length > 64) {
    throw invalid(`gemspec: ${what} has an invalid version`);
  }
  return s.trim();
}

function requirementOf(v: Y, what: string): Requirement {
  if (v === undefined || v === null || v === '') return [['>=', '0']];
  if (!isMap(v) || !Array.isArray(v.requirements) || v.requirements.length > 100) throw invalid(`gemspec: ${what} is not a requirement`);
  const out: Requirement = v.requirements.map((r: Y) => {
    if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'string' || !OPERATORS.has(r[0])) throw invalid(`gemspec: ${what} has an invalid requirement`);
    return [r[0], versionOf(r[1], what)] as [string, string];
  });
  return out.length ? out : [['>=', '0']];
}

/** Parses a gemspec YAML document into a checked GemSpec; throws Invalid with a clear message. */
export function parseGemspec(text: string): GemSpec {
  const doc = parseDocument(text, { schema: 'failsafe', customTags, uniqueKeys: true, prettyErrors: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const tag = /Unresolved tag: (\S+)/.exec(problem.message);
    throw invalid(tag ? `gemspec: the YAML tag ${tag[1]} is not allowed in a gemspec` : `gemspec: invalid YAML: ${problem.message.split('\n')[0]}`);
  }
  if (doc.contents && doc.contents.tag !== '!ruby/object:Gem::Specification') throw invalid('gemspec: the document is not a !ruby/object:Gem::Specification');
  let s: Y;
  try {
    s = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw invalid(`gemspec: invalid YAML: ${(e as Error).message}`);
  }
  if (!isMap(s)) throw invalid('gemspec: the document is not a mapping');

  const name = checkGemName(str(s.name, 'name', 100) ?? '');
  const version = checkGemVersion(versionOf(s.version, 'version'));
  const platformText = isMap(s.platform) ? [s.platform.cpu, s.platform.os, s.platform.version].filter((x) => typeof x === 'string' && x).join('-') : str(s.platform, 'platform', 64);
  const platform = !platformText || platformText === 'ruby' ? 'ruby' : checkPlatform(platformText);

  const deps = s.dependencies ?? [];
  if (deps !== '' && (!Array.isArray(deps) || deps.length > 1000)) throw invalid('gemspec: dependencies must be a list');
  const dependencies: GemDependency[] = (deps === '' ? [] : (deps as Y[])).map((d) => {
    if (!isMap(d)) throw invalid('gemspec: a dependency is not a Gem::Dependency');
    const depName = checkGemName(str(d.name, 'dependency name', 100) ?? '');
    const type = d.type === ':development' ? 'development' : d.type === undefined || d.type === '' || d.type === ':runtime' ? 'runtime' : null;
    if (!type) throw invalid(`gemspec: dependency ${depName} has an unknown type`);
    return { name: depName, requirement: requirementOf(d.requirement ?? d.version_requirements, `dependency ${depName}`), type };
  });

  const metadata: Record<string, string> = {};
  if (s.metadata !== undefined && s.metadata !== '') {
    if (!isMap(s.metadata) || Object.keys(s.metadata).length > 100) throw invalid('gemspec: metadata must be a mapping of strings');
    for (const [k, v] of Object.entries(s.metadata)) {
      if (k.length > 128 || typeof v !== 'string' || v.length > 1024) throw invalid(`gemspec: metadata "${k.slice(0, 40)}" must be a string of at most 1024 characters`);
      metadata[k] = v;
    }
  }
  const email = Array.isArray(s.email) ? strList(s.email, 'email') : str(s.email, 'email', 1024);
  const specVersion = Number(str(s.specification_version, 'specification_version') ?? '4');
  const date = /^(\d{4})-(\d{2})-(\d{2})/.exec(str(s.date, 'date', 64) ?? '')?.[0] ?? new Date().toISOString().slice(0, 10);

  return {
    name, version, platform,
    summary: str(s.summary, 'summary') ?? '',
    description: str(s.description, 'description'),
    authors: strList(s.authors, 'authors'),
    email,
    homepage: str(s.homepage, 'homepage', 1024),
    licenses: strList(s.licenses, 'licenses'),
    metadata, dependencies,
    requiredRubyVersion: requirementOf(s.required_ruby_version, 'required_ruby_version'),
    requiredRubygemsVersion: requirementOf(s.required_rubygems_version, 'required_rubygems_version'),
    rubygemsVersion: str(s.rubygems_version, 'rubygems_version', 64) ?? '0',
    specificationVersion: Number.isInteger(specVersion) && specVersion >= -1 && specVersion <= 10 ? specVersion : 4,
    date,
  };
}

/** ">= 1.0, < 2" style, as RubyGems prints a requirement. */
export const requirementText = (r: Requirement) => r.map(([op, v]) => `${op} ${v}`).join(', ');
