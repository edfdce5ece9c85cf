// Building npm publish bodies by hand, including wrong ones, for protocol tests.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export async function tarOf(entries: { name: string; body: string | Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name }, e.body);
  pack.finalize();
  const out: Buffer[] = [];
  for await (const c of pack) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** A valid .tgz for `name@version` (package/package.json + index.js). */
export async function npmTarball(name: string, version: string, extra: Record<string, unknown> = {}): Promise<Buffer> {
  return gzipSync(await tarOf([
    { name: 'package/package.json', body: JSON.stringify({ name, version, ...extra }) },
    { name: 'package/index.js', body: `module.exports = ${JSON.stringify(`${name}@${version}`)};\n` },
  ]));
}

export interface BodyOptions {
  name: string;
  version: string;
  tarball: Buffer;
  manifest?: Record<string, unknown>;
  integrity?: string;
  shasum?: string;
  tags?: Record<string, string>;
}

/** The JSON body `npm publish` sends (see shared/CLIENTS.md). */
export function publishBody(o: BodyOptions): Record<string, unknown> {
  const integrity = o.integrity ?? `sha512-${createHash('sha512').update(o.tarball).digest('base64')}`;
  const shasum = o.shasum ?? createHash('sha1').update(o.tarball).digest('hex');
  const file = `${o.name}-${o.version}.tgz`;
  return {
    _id: o.name,
    name: o.name,
    'dist-tags': o.tags ?? { latest: o.version },
    versions: {
      [o.version]: { name: o.name, version: o.version, _id: `${o.name}@${o.version}`, ...o.manifest, dist: { integrity, shasum, tarball: `http://x/${file}` } },
    },
    access: null,
    _attachments: { [file]: { content_type: 'application/octet-stream', data: o.tarball.toString('base64'), length: o.tarball.length } },
  };
}

/** PUT a publish body to Wharf. */
export async function putPackage(url: string, token: string | null, name: string, body: unknown): Promise<Response> {
  return fetch(`${url}/npm/${name.replace('/', '%2f')}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
  });
}

/** Publishes a valid version; returns the response. */
export async function publish(url: string, token: string, name: string, version: string, manifest: Record<string, unknown> = {}): Promise<Response> {
  const tarball = await npmTarball(name, version, manifest);
  return putPackage(url, token, name, publishBody({ name, version, tarball, manifest }));
}
