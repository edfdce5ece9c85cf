// Building OCI content for tests: blobs, image configs, image manifests, indexes, artifacts with a `subject`,
// Docker schema 2 manifests and manifest lists; and pushing them to a registry over HTTP with plain fetch.
// Every builder returns the exact bytes it made, with their digest, so tests can compare byte for byte.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  cosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
} as const;

/** Content with its digest: a blob, or a manifest's bytes. */
export interface Content {
  bytes: Buffer;
  digest: string;
  size: number;
  mediaType: string;
}

/** A manifest: its bytes (exactly what is pushed), the parsed document and its descriptor fields. */
export interface Manifest extends Content {
  json: Record<string, unknown>;
  /** The blobs it refers to (config first), for pushImage. */
  blobs: Content[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [k: string]: unknown;
}

export const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A blob of these bytes (or `size` random bytes when given a number). */
export function blob(bytes: Buffer | string | number = 1024, mediaType: string = MEDIA.ociLayer): Content {
  const b = typeof bytes === 'number' ? randomBytes(bytes) : Buffer.from(bytes);
  return { bytes: b, digest: sha256(b), size: b.length, mediaType };
}

/** An image config blob; `labels` go in config.Labels (e.g. org.opencontainers.image.source). */
export function configBlob(opts: { labels?: Record<string, string>; architecture?: string; os?: string; mediaType?: string } = {}): Content {
  const doc = {
    created: '2024-01-01T00:00:00Z',
    architecture: opts.architecture ?? 'amd64',
    os: opts.os ?? 'linux',
    config: { Labels: opts.labels ?? {}, Env: ['PATH=/usr/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [sha256(randomBytes(8))] },
    history: [{ created: '2024-01-01T00:00:00Z', created_by: `test ${randomBytes(4).toString('hex')}` }],
  };
  return blob(JSON.stringify(doc), opts.mediaType ?? MEDIA.ociConfig);
}

/** The OCI empty descriptor's content, `{}`. */
export const emptyConfig = (): Content => blob('{}', MEDIA.ociEmpty);

export const descriptorOf = (c: Content, extra: Record<string, unknown> = {}): Descriptor => ({ mediaType: c.mediaType, digest: c.digest, size: c.size, ...extra });

function manifestOf(doc: Record<string, unknown>, mediaType: string, blobs: Content[], raw?: string): Manifest {
  const bytes = Buffer.from(raw ?? JSON.stringify(doc));
  return { bytes, digest: sha256(bytes), size: bytes.length, mediaType, json: doc, blobs };
}

/**
 * An OCI image manifest (or, with `mediaType` set to Docker's, a schema 2 manifest). `subject` and
 * `artifactType` make it a referrer; `pretty` serializes with odd spacing to check byte-exact storage.
 */
export function imageManifest(opts: {
  config?: Content;
  layers?: Content[];
  subject?: Content | Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  mediaType?: string;
  /** Omit the `mediaType` field from the document (it is optional in OCI). */
  omitMediaType?: boolean;
  pretty?: boolean;
} = {}): Manifest {
  const config = opts.config ?? configBlob();
  const layers = opts.layers ?? [blob(512)];
  const mediaType = opts.mediaType ?? MEDIA.ociManifest;
  const doc: Record<string, unknown> = { schemaVersion: 2 };
  if (!opts.omitMediaType) doc.mediaType = mediaType;
  if (opts.artifactType) doc.artifactType = opts.artifactType;
  doc.config = descriptorOf(config);
  doc.layers = layers.map((l) => descriptorOf(l));
  if (opts.subject) doc.subject = { mediaType: opts.subject.mediaType, digest: opts.subject.digest, size: opts.subject.size };
  if (opts.annotations) doc.annotations = opts.annotations;
  return manifestOf(doc, mediaType, [config, ...layers], opts.pretty ? `{\n   ${JSON.stringify(doc, null, 3).slice(1).trim()}\n\n` : undefined);
}

/** What cosign pushes for a signature (tag scheme): the simple-signing payload as a layer, its signature annotated. */
export function cosignSignature(reference: string, digest: string): Manifest {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }));
  const m = imageManifest({ config: emptyConfig(), layers: [blob(payload, MEDIA.cosignSimpleSigning)] });
  const doc = m.json as { layers: Record<string, unknown>[] };
  doc.layers[0].annotations = { 'dev.cosignproject.cosign/signature': sign('sha256', payload, privateKey).toString('base64') };
  const bytes = Buffer.from(JSON.stringify(doc));
  return { ...m, bytes, size: bytes.length, digest: sha256(bytes) };
}

/** A Docker v2 schema 2 manifest (Docker media types for the manifest, config and layers). */
export function dockerManifest(opts: { config?: Content; layers?: Content[] } = {}): Manifest {
  const config = opts.config ?? configBlob({ mediaType: MEDIA.dockerConfig });
  const layers = opts.layers ?? [blob(512, MEDIA.dockerLayer)];
  return imageManifest({ config, layers, mediaType: MEDIA.dockerManifest });
}

/** An artifact: an OCI image manifest with an `artifactType`, the empty config, a subject, and one small layer. */
export function artifactManifest(opts: { subject?: Content | Descriptor; artifactType: string; annotations?: Record<string, string>; layers?: Content[] }): Manifest {
  return imageManifest({ config: emptyConfig(), layers: opts.layers ?? [blob(64, 'application/octet-stream')], subject: opts.subject, artifactType: opts.artifactType, annotations: opts.annotations });
}

/** An image index (or Docker manifest list) over the given manifests, each with its platform. */
export function imageIndex(
  entries: { manifest: Manifest | Descriptor; platform?: { architecture: string; os: string; variant?: string } }[],
  opts: { mediaType?: string; subject?: Content | Descriptor; artifactType?: string; annotations?: Record<string, string> } = {},
): Manifest {
  const mediaType = opts.mediaType ?? MEDIA.ociIndex;
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType };
  if (opts.artifactType) doc.artifactType = opts.artifactType;
  doc.manifests = entries.map((e) => ({ mediaType: e.manifest.mediaType, digest: e.manifest.digest, size: e.manifest.size, ...(e.platform ? { platform: e.platform } : {}) }));
  if (opts.subject) doc.subject = { mediaType: opts.subject.mediaType, digest: opts.subject.digest, size: opts.subject.size };
  if (opts.annotations) doc.annotations = opts.annotations;
  return manifestOf(doc, mediaType, []);
}

/** Two single-platform images (linux/amd64, linux/arm64) and the index over them. */
export function multiPlatform(opts: { mediaType?: string } = {}): { amd64: Manifest; arm64: Manifest; index: Manifest } {
  const docker = opts.mediaType === MEDIA.dockerList;
  const make = (architecture: string) =>
    docker
      ? dockerManifest({ config: configBlob({ architecture, mediaType: MEDIA.dockerConfig }) })
      : imageManifest({ config: configBlob({ architecture }) });
  const amd64 = make('amd64');
  const arm64 = make('arm64');
  const index = imageIndex(
    [
      { manifest: amd64, platform: { architecture: 'amd64', os: 'linux' } },
      { manifest: arm64, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ],
    { mediaType: opts.mediaType },
  );
  return { amd64, arm64, index };
}

// ---- HTTP ------------------------------------------------------------------------------------------------

/** `Authorization: Basic` for a user and a token (or password). */
export const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
export const bearer = (token: string) => `Bearer ${token}`;

const headersOf = (auth: string | undefined, extra: Record<string, string> = {}) => ({ ...(auth ? { authorization: auth } : {}), ...extra });

/** `location` resolved against the registry URL (it may be relative), with `params` added to its query. */
export function resolveLocation(url: string, location: string, params: Record<string, string> = {}): string {
  const u = new URL(location, url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Pushes a blob POST-then-PUT (the way every client can); returns the PUT response (201 on success). */
export async function pushBlob(url: string, name: string, bytes: Buffer | Content, auth?: string): Promise<Response> {
  const b = Buffer.isBuffer(bytes) ? blob(bytes) : bytes;
  const start = await fetch(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: headersOf(auth, { 'content-length': '0' }) });
  if (start.status !== 202) return start;
  await start.arrayBuffer();
  const loc = start.headers.get('location');
  if (!loc) throw new Error('POST /blobs/uploads/ answered 202 without a Location');
  return fetch(resolveLocation(url, loc, { digest: b.digest }), {
    method: 'PUT',
    headers: headersOf(auth, { 'content-type': 'application/octet-stream' }),
    body: new Uint8Array(b.bytes),
  });
}

/** PUTs a manifest (its bytes, with its media type as Content-Type) at a tag or digest. */
export function pushManifest(url: string, name: string, ref: string, manifest: Manifest | Content, auth?: string, contentType?: string): Promise<Response> {
  return fetch(`${url}/v2/${name}/manifests/${ref}`, {
    method: 'PUT',
    headers: headersOf(auth, { 'content-type': contentType ?? manifest.mediaType }),
    body: new Uint8Array(manifest.bytes),
  });
}

/** Pushes every blob of a manifest and then the manifest at `ref`; throws on any failure. */
export async function pushImage(url: string, name: string, ref: string, manifest: Manifest, auth?: string): Promise<Manifest> {
  for (const b of manifest.blobs) {
    const r = await pushBlob(url, name, b, auth);
    if (r.status !== 201) throw new Error(`blob push of ${b.digest} to ${name} → ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }
  const r = await pushManifest(url, name, ref, manifest, auth);
  if (r.status !== 201) throw new Error(`manifest push to ${name}:${ref} → ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
  return manifest;
}

/** Pushes a multi-platform image: both platform manifests (by digest) and then the index at `ref`. */
export async function pushIndex(url: string, name: string, ref: string, image: { amd64: Manifest; arm64: Manifest; index: Manifest }, auth?: string): Promise<Manifest> {
  await pushImage(url, name, image.amd64.digest, image.amd64, auth);
  await pushImage(url, name, image.arm64.digest, image.arm64, auth);
  return pushImage(url, name, ref, image.index, auth);
}

/** The payload of a JWT (not verified). */
export function jwtPayload(token: string): Record<string, any> {
  const part = token.split('.')[1];
  if (!part) throw new Error(`not a JWT: ${token.slice(0, 20)}…`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** A registry token from GET /v2/token for `scope` (`repository:alice/app:pull,push`), with Basic `auth` or none. */
export async function registryToken(url: string, scope: string | string[], auth?: string, service?: string): Promise<{ status: number; body: any }> {
  const q = new URLSearchParams({ service: service ?? new URL(url).host });
  for (const sc of ([] as string[]).concat(scope)) q.append('scope', sc);
  const r = await fetch(`${url}/v2/token?${q}`, { headers: headersOf(auth) });
  const text = await r.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, body };
}
