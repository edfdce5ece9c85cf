// Cosign-compatible image signatures: "simple signing" payloads in signature manifests found by the tag scheme
// (`sha256-<hex>.sig`) or by the referrers API (manifests whose subject is the image), each layer's payload
// signed with ECDSA P-256 (annotation dev.cosignproject.cosign/signature). Wharf verifies them against the keys
// trusted for the image's owner or the image itself.
import { verify } from 'node:crypto';
import type { Core } from '../../core/core.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { readSmallBody } from '../../http/body.ts';
import type { Descriptor } from './manifests.ts';
import type { OciName } from './names.ts';

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

export type SignatureState =
  | { state: 'signed'; key: string }
  | { state: 'invalid'; detail: string }
  | { state: 'unsigned' };

interface StoredMeta {
  mediaType: string;
  artifactType?: string;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/** True for a manifest that is itself a cosign signature (always pullable, or nobody could verify anything). */
export function isSignatureManifest(meta: StoredMeta): boolean {
  return meta.artifactType === COSIGN_SIG_ARTIFACT || !!meta.layers?.some((l) => l.mediaType === SIMPLE_SIGNING);
}

/** The repository a docker-reference names, without registry host, tag or digest. */
function repositoryOf(reference: string): string {
  let r = reference.split('@')[0];
  const parts = r.split('/');
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) r = parts.slice(1).join('/');
  return r.replace(/:[^/]+$/, '');
}

export async function verifyImage(core: Core, pkg: PackageRow, n: OciName, digest: string): Promise<SignatureState> {
  const candidates: StoredMeta[] = [];
  const tag = `${digest.replace(':', '-')}.sig`;
  const tagged = (await core.packages.tags(pkg.id)).find((t) => t.name === tag);
  const versions = [
    ...(tagged ? [await core.packages.version(pkg.id, tagged.version)] : []),
    ...(await core.packages.versionsWithProperty(pkg.id, 'oci.subject', digest)),
  ];
  for (const v of versions) if (v) candidates.push(JSON.parse(v.metadata) as StoredMeta);
  const layers = candidates.flatMap((m) => (isSignatureManifest(m) ? (m.layers ?? []).filter((l) => l.mediaType === SIMPLE_SIGNING) : []));
  if (!layers.length) return { state: 'unsigned' };

  const keys = await core.signing.keysFor(pkg.owner_id, pkg.name);
  let problem = 'no trusted key for this image: register one with `wharf signing trust`';
  for (const layer of layers) {
    const sig = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (!sig || layer.size > 64 * 1024) continue;
    let payload: Buffer;
    try {
      payload = await readSmallBody(await core.blobs.open(layer.digest), 64 * 1024);
    } catch {
      continue;
    }
    let doc: { critical?: { identity?: { 'docker-reference'?: string }; image?: { 'docker-manifest-digest'?: string }; type?: string } };
    try {
      doc = JSON.parse(payload.toString('utf8'));
    } catch {
      problem = 'the signature payload is not valid JSON';
      continue;
    }
    if (doc.critical?.image?.['docker-manifest-digest'] !== digest) {
      problem = 'the signature is for another digest';
      continue;
    }
    const ref = doc.critical?.identity?.['docker-reference'];
    if (ref && repositoryOf(ref) !== n.full) {
      problem = `the signature is for another repository (${ref})`;
      continue;
    }
    for (const k of keys) {
      if (verify('sha256', payload, k.publicPem, Buffer.from(sig, 'base64'))) return { state: 'signed', key: k.fingerprint };
    }
    if (keys.length) problem = 'signature does not match any trusted key';
  }
  return { state: 'invalid', detail: problem };
}
