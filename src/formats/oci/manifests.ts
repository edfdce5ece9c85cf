// Manifest parsing and validation: OCI image manifests and indexes, Docker schema 2 manifests and manifest
// lists. Schema 1 is refused. The result lists what the manifest refers to, so the registry can check that each
// blob and child manifest is in the repository before accepting it.
import { checkJsonDepth, MAX_JSON_DEPTH } from '../../http/body.ts';
import { ociError } from './errors.ts';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

const SCHEMA1 = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];
const INDEX_TYPES: string[] = [MEDIA.ociIndex, MEDIA.dockerList];
const MANIFEST_TYPES: string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];
export const ALL_MANIFEST_TYPES: string[] = [...MANIFEST_TYPES, ...INDEX_TYPES];

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Record<string, unknown>;
}

export interface ParsedManifest {
  mediaType: string;
  isIndex: boolean;
  config?: Descriptor;
  /** Blobs (config and layers) that must be in the repository. */
  blobs: Descriptor[];
  /** Child manifests (of an index) that must be in the repository. */
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalid = (m: string) => ociError('MANIFEST_INVALID', m);

function descriptor(d: unknown, where: string): Descriptor {
  if (!d || typeof d !== 'object') throw invalid(`${where} must be a descriptor object`);
  const o = d as Record<string, unknown>;
  if (typeof o.mediaType !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(o.mediaType)) throw invalid(`${where}.mediaType is missing or invalid`);
  if (typeof o.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(o.digest)) throw invalid(`${where}.digest must be a sha256 digest`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  const out: Descriptor = { mediaType: o.mediaType, digest: o.digest, size: o.size };
  if (typeof o.artifactType === 'string') out.artifactType = o.artifactType;
  if (o.annotations && typeof o.annotations === 'object') out.annotations = o.annotations as Record<string, string>;
  if (o.platform && typeof o.platform === 'object') out.platform = o.platform as Record<string, unknown>;
  return out;
}

/** Parses manifest bytes sent with `contentType`; throws MANIFEST_INVALID (or UNSUPPORTED for schema 1). */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  const text = bytes.toString('utf8');
  // Nesting is bounded: annotations are stored and serialized again, and a 100,000-deep value overflows that.
  checkJsonDepth(text, MAX_JSON_DEPTH, 'manifest');
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('manifest must be a JSON object');
  const ct = contentType?.split(';')[0].trim().toLowerCase();
  if (doc.schemaVersion === 1 || (ct && SCHEMA1.includes(ct))) throw invalid('Docker schema 1 manifests are not supported: push schema 2 or OCI');
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  // The Content-Type names the manifest's type; a mediaType field, when present, must agree with it.
  let mediaType = ct && ALL_MANIFEST_TYPES.includes(ct) ? ct : declared;
  if (!mediaType) mediaType = Array.isArray(doc.manifests) ? MEDIA.ociIndex : MEDIA.ociManifest;
  if (declared && declared !== mediaType) throw invalid(`mediaType ${declared} does not match Content-Type ${mediaType}`);
  if (!ALL_MANIFEST_TYPES.includes(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`);

  const out: ParsedManifest = { mediaType, isIndex: INDEX_TYPES.includes(mediaType), blobs: [], manifests: [] };
  if (doc.subject !== undefined) out.subject = descriptor(doc.subject, 'subject');
  if (typeof doc.artifactType === 'string') out.artifactType = doc.artifactType;
  if (doc.annotations && typeof doc.annotations === 'object') out.annotations = doc.annotations as Record<string, string>;
  if (out.isIndex) {
    if (!Array.isArray(doc.manifests)) throw invalid('an index must have a manifests array');
    out.manifests = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
    return out;
  }
  out.config = descriptor(doc.config, 'config');
  if (!Array.isArray(doc.layers)) throw invalid('a manifest must have a layers array');
  const layers = doc.layers.map((l, i) => descriptor(l, `layers[${i}]`));
  // Foreign layers (urls) may live elsewhere; everything else must be in the repository.
  const local = layers.filter((_l, i) => !Array.isArray((doc.layers as Record<string, unknown>[])[i].urls));
  out.blobs = [out.config, ...local];
  return out;
}

/** What a version (a stored manifest) keeps of its manifest, for serving, referrers and the UI. */
export interface VersionMeta {
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  subject?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/**
 * The blobs a manifest refers to, each digest once: a version's files are named by digest, and a manifest may
 * name one blob twice (the OCI empty descriptor as config and layer; an image repeating a layer).
 */
export function uniqueBlobs(blobs: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return blobs.filter((b) => !seen.has(b.digest) && !!seen.add(b.digest));
}
