// The npm publish request, as npm 11 sends it: one version per PUT, the tarball base64 in _attachments.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { request } from './http.ts';
import { manifestOf, makeTarball, type Digests, type Tarball } from './tarball.ts';

export interface Registry {
  label: string;
  /** npm registry base URL, with the trailing slash. */
  url: string;
  token: string;
}

/** `@bench/pkg1` -> `@bench%2fpkg1`, as npm puts it in the path. */
export const escapeName = (name: string) => name.replace('/', '%2f');

export const versionAt = (i: number) => `1.${Math.floor(i / 10)}.${i % 10}`;
export const packageName = (scope: string, i: number) => `@${scope}/pkg${i}`;

export function versionDoc(registry: string, name: string, version: string, digests: { integrity: string; shasum: string }) {
  return {
    ...manifestOf(name, version),
    _id: `${name}@${version}`,
    readme: `# ${name}\n\nA package published by Wharf's benchmark.\n`,
    _nodeVersion: process.versions.node,
    _npmVersion: '11.19.1',
    dist: {
      integrity: digests.integrity,
      shasum: digests.shasum,
      tarball: `${registry}${name}/-/${name}-${version}.tgz`,
    },
  };
}

export function publishBody(registry: string, name: string, version: string, tgz: Tarball) {
  return {
    _id: name,
    name,
    description: manifestOf(name, version).description,
    'dist-tags': { latest: version },
    versions: { [version]: versionDoc(registry, name, version, tgz) },
    access: null,
    _attachments: {
      [`${name}-${version}.tgz`]: { content_type: 'application/octet-stream', data: tgz.bytes.toString('base64'), length: tgz.bytes.length },
    },
  };
}

function headers(reg: Registry, extra: Record<string, string | number> = {}) {
  return {
    authorization: `Bearer ${reg.token}`,
    'content-type': 'application/json',
    accept: '*/*',
    'npm-command': 'publish',
    'user-agent': 'wharf-bench (npm/11.19.1 compatible)',
    ...extra,
  };
}

/** One publish request, built before a measurement so that building it is not timed. */
export interface PreparedPublish {
  name: string;
  version: string;
  body: Buffer;
}

/** The PUT body npm sends for one version (the tarball built, gzipped, digested and base64-encoded). */
export async function preparePublish(reg: Registry, name: string, version: string, tgz?: Tarball): Promise<PreparedPublish> {
  const t = tgz ?? (await makeTarball(name, version));
  return { name, version, body: Buffer.from(JSON.stringify(publishBody(reg.url, name, version, t))) };
}

/** Sends one prepared publish; throws on anything but 2xx. */
export async function sendPublish(reg: Registry, p: PreparedPublish): Promise<void> {
  const r = await request('PUT', `${reg.url}${escapeName(p.name)}`, { headers: headers(reg, { 'content-length': p.body.length }), body: p.body });
  if (r.status < 200 || r.status >= 300) {
    throw new Error(`${reg.label}: PUT ${p.name}@${p.version} -> ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  }
}

/** Publishes one version; throws on anything but 2xx. */
export async function publishVersion(reg: Registry, name: string, version: string, tgz?: Tarball): Promise<void> {
  await sendPublish(reg, await preparePublish(reg, name, version, tgz));
}

/**
 * Builds the requests of versions `first`..`first + versions - 1` (see versionAt) of every package in `names`: one
 * list per package, in version order. On this 2-vCPU machine building a tarball costs the load generator about a
 * millisecond of CPU, which it would otherwise take from the server under test during the measurement.
 */
export async function preparePublishes(reg: Registry, names: string[], versions: number, first = 0): Promise<PreparedPublish[][]> {
  const out: PreparedPublish[][] = [];
  for (const name of names) {
    const list: PreparedPublish[] = [];
    for (let v = first; v < first + versions; v++) list.push(await preparePublish(reg, name, versionAt(v)));
    out.push(list);
  }
  return out;
}

/**
 * Sends prepared publishes with `concurrency` workers; a worker takes the next package and publishes its versions
 * in order (two PUTs of the same package at once would race on its packument, as with npm itself).
 */
export async function publishPrepared(reg: Registry, packages: PreparedPublish[][], concurrency: number, onVersion?: () => void) {
  let next = 0;
  const worker = async () => {
    while (next < packages.length) {
      for (const p of packages[next++]) {
        await sendPublish(reg, p);
        onVersion?.();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, packages.length) }, worker));
}

/**
 * Sends prepared publishes of distinct versions of one package with `concurrency` workers, each taking the next
 * version as soon as it is free: concurrent PUTs of the same package (CI jobs of a matrix or a monorepo release
 * publishing at once). A failed publish is counted by status, not thrown: losing some is what this measures too.
 */
export async function publishConcurrently(reg: Registry, versions: PreparedPublish[], concurrency: number): Promise<{ ok: number; failed: Map<number, number> }> {
  let next = 0;
  let ok = 0;
  const failed = new Map<number, number>();
  const worker = async () => {
    while (next < versions.length) {
      const p = versions[next++];
      const r = await request('PUT', `${reg.url}${escapeName(p.name)}`, { headers: headers(reg, { 'content-length': p.body.length }), body: p.body });
      if (r.status >= 200 && r.status < 300) ok++;
      else failed.set(r.status, (failed.get(r.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, versions.length) }, worker));
  return { ok, failed };
}

/**
 * Publishes a big tarball from `file` with the JSON body built as a stream: the base64 of the file is produced
 * chunk by chunk (3-byte aligned), so neither the tarball nor its base64 is ever held in memory here.
 */
export async function publishStreamed(reg: Registry, name: string, version: string, file: string, d: Digests) {
  const doc = {
    _id: name,
    name,
    description: manifestOf(name, version).description,
    'dist-tags': { latest: version },
    versions: { [version]: versionDoc(reg.url, name, version, d) },
    access: null,
  };
  const head = JSON.stringify(doc).slice(0, -1) + `,"_attachments":{${JSON.stringify(`${name}-${version}.tgz`)}:{"content_type":"application/octet-stream","length":${d.length},"data":"`;
  const foot = '"}}}';
  const b64Length = 4 * Math.ceil(d.length / 3);
  const contentLength = Buffer.byteLength(head) + b64Length + Buffer.byteLength(foot);

  async function* body() {
    yield Buffer.from(head);
    let carry = Buffer.alloc(0);
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
      const buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
      const usable = buf.length - (buf.length % 3);
      yield Buffer.from(buf.subarray(0, usable).toString('base64'));
      carry = Buffer.from(buf.subarray(usable));
    }
    if (carry.length) yield Buffer.from(carry.toString('base64'));
    yield Buffer.from(foot);
  }
  const r = await request('PUT', `${reg.url}${escapeName(name)}`, {
    headers: headers(reg, { 'content-length': contentLength }),
    body: Readable.from(body()),
    timeoutMs: 600_000,
  });
  if (r.status < 200 || r.status >= 300) throw new Error(`${reg.label}: streamed PUT ${name}@${version} -> ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  return contentLength;
}
