// Publishing an npm package over HTTP the way `npm publish` does (shared/CLIENTS.md §1): a real .tgz with
// package/package.json, declared dist.integrity (sha512) and dist.shasum (sha1) that match it, PUT as JSON.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface NpmPublishOptions {
  /** The owner, without the `@`. */
  scope: string;
  name: string;
  version: string;
  /** package.json `repository`: a URL string or `{ type, url }`; Wharf links the package by it. */
  repository?: string | { type?: string; url: string };
  /** The dist-tag to publish under (default `latest`). */
  tag?: string;
  /** More files in the tarball, by path under package/. */
  extraFiles?: Record<string, string | Buffer>;
  /** More package.json fields. */
  manifest?: Record<string, unknown>;
}

/** A gzipped tar of `files` (paths as given). */
export async function tgz(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

/** The package.json, the tarball and the JSON body npm sends for one version. */
export async function npmPublishBody(o: NpmPublishOptions): Promise<{ full: string; tarball: Buffer; body: Record<string, unknown> }> {
  const full = `@${o.scope}/${o.name}`;
  const pkgJson: Record<string, unknown> = { name: full, version: o.version, ...o.manifest, ...(o.repository !== undefined ? { repository: o.repository } : {}) };
  const files: Record<string, string | Buffer> = {
    'package/package.json': JSON.stringify(pkgJson, null, 2),
    'package/index.js': `module.exports = ${JSON.stringify(`${full}@${o.version}`)};\n`,
  };
  for (const [p, body] of Object.entries(o.extraFiles ?? {})) files[`package/${p}`] = body;
  const tarball = await tgz(files);
  const file = `${full}-${o.version}.tgz`;
  const body = {
    _id: full,
    name: full,
    'dist-tags': { [o.tag ?? 'latest']: o.version },
    versions: {
      [o.version]: {
        ...pkgJson,
        _id: `${full}@${o.version}`,
        dist: {
          integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
          shasum: createHash('sha1').update(tarball).digest('hex'),
          tarball: `http://localhost/npm/${full}/-/${file}`,
        },
      },
    },
    access: null,
    _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
  return { full, tarball, body };
}

/** `npm publish` of `@scope/name@version` to Wharf at `url`; `token` null publishes anonymously. */
export async function publishNpm(url: string, token: string | null, o: NpmPublishOptions): Promise<Response> {
  const { body } = await npmPublishBody(o);
  return fetch(`${url}/npm/@${o.scope}%2f${o.name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}
