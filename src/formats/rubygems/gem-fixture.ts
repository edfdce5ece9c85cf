// Builds .gem files in memory, as `gem build` lays them out, for the unit and HTTP tests (including broken
// ones: every part can be replaced). Not used by the server.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface FixtureGem {
  name: string;
  version: string;
  platform?: string;
  deps?: [string, string[]][];
  devDeps?: [string, string[]][];
  metadata?: Record<string, string>;
  summary?: string;
  requiredRuby?: string[];
  files?: Record<string, string>;
}

const req = (reqs: string[], indent: string) =>
  `${indent}requirements:\n` +
  reqs
    .map((r) => {
      const [op, v] = r.includes(' ') ? r.split(' ') : ['>=', r];
      return `${indent}- - "${op}"\n${indent}  - !ruby/object:Gem::Version\n${indent}    version: '${v}'\n`;
    })
    .join('');

/** The gemspec YAML Psych writes for such a gem. */
export function gemspecYaml(g: FixtureGem): string {
  const dep = (name: string, reqs: string[], type: string) =>
    `- !ruby/object:Gem::Dependency\n  name: ${name}\n  requirement: !ruby/object:Gem::Requirement\n${req(reqs, '    ')}  type: :${type}\n  prerelease: false\n  version_requirements: !ruby/object:Gem::Requirement\n${req(reqs, '    ')}`;
  const deps = [...(g.deps ?? []).map(([n, r]) => dep(n, r, 'runtime')), ...(g.devDeps ?? []).map(([n, r]) => dep(n, r, 'development'))];
  const meta = Object.entries(g.metadata ?? {});
  return [
    '--- !ruby/object:Gem::Specification',
    `name: ${g.name}`,
    'version: !ruby/object:Gem::Version',
    `  version: ${g.version}`,
    `platform: ${g.platform ?? 'ruby'}`,
    'authors:',
    '- Alice',
    'autorequire:',
    'bindir: bin',
    'cert_chain: []',
    'date: 2026-11-23 00:00:00.000000000 Z',
    deps.length ? `dependencies:\n${deps.join('')}`.trimEnd() : 'dependencies: []',
    'description: A test gem',
    'email: alice@example.com',
    'executables: []',
    'extensions: []',
    'extra_rdoc_files: []',
    'files:',
    ...Object.keys(g.files ?? { [`lib/${g.name}.rb`]: '' }).map((f) => `- ${f}`),
    'homepage: https://example.com/x',
    'licenses:',
    '- MIT',
    meta.length ? `metadata:\n${meta.map(([k, v]) => `  ${k}: ${v}`).join('\n')}` : 'metadata: {}',
    'post_install_message:',
    'rdoc_options: []',
    'require_paths:',
    '- lib',
    `required_ruby_version: !ruby/object:Gem::Requirement\n${req(g.requiredRuby ?? ['>= 0'], '  ')}`.trimEnd(),
    `required_rubygems_version: !ruby/object:Gem::Requirement\n${req(['>= 0'], '  ')}`.trimEnd(),
    'requirements: []',
    'rubygems_version: 3.3.15',
    'signing_key:',
    'specification_version: 4',
    `summary: ${g.summary ?? 'A test gem'}`,
    'test_files: []',
    '',
  ].join('\n');
}

export async function tarOf(entries: { name: string; body: Buffer; type?: 'file' | 'symlink'; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else pack.entry({ name: e.name, size: e.body.length, mode: 0o444 }, e.body);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface GemParts {
  metadata?: Buffer;
  data?: Buffer;
  checksums?: Buffer | null;
  extra?: { name: string; body: Buffer }[];
}

/** A .gem; `parts` replaces any of its pieces (for hostile inputs). */
export async function buildGem(g: FixtureGem, parts: GemParts = {}): Promise<Buffer> {
  const metadata = parts.metadata ?? gzipSync(gemspecYaml(g));
  const files = g.files ?? { [`lib/${g.name}.rb`]: `module X; VERSION = ${JSON.stringify(g.version)}; end\n` };
  const data = parts.data ?? gzipSync(await tarOf(Object.entries(files).map(([name, body]) => ({ name, body: Buffer.from(body) }))));
  const sum = (a: string, b: Buffer) => createHash(a).update(b).digest('hex');
  const checksums =
    parts.checksums === null
      ? null
      : (parts.checksums ??
        gzipSync(`---\nSHA256:\n  metadata.gz: ${sum('sha256', metadata)}\n  data.tar.gz: ${sum('sha256', data)}\nSHA512:\n  metadata.gz: ${sum('sha512', metadata)}\n  data.tar.gz: ${sum('sha512', data)}\n`));
  return tarOf([
    { name: 'metadata.gz', body: metadata },
    { name: 'data.tar.gz', body: data },
    ...(checksums ? [{ name: 'checksums.yaml.gz', body: checksums }] : []),
    ...(parts.extra ?? []),
  ]);
}
