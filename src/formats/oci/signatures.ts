// Image signatures as cosign stores them, found and read here; core/signing decides whether they verify.
// - Legacy cosign: "simple signing" payloads in signature manifests found by the tag scheme (`sha256-<hex>.sig`)
//   or by the referrers API, each payload a layer signed in the annotation dev.cosignproject.cosign/signature.
// - Cosign v3: a Sigstore bundle (one layer of type application/vnd.dev.sigstore.bundle.v0.3+json) in an artifact
//   manifest of that artifactType whose `subject` is the image, found through the referrers API.
import type { Core } from '../../core/core.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { BUNDLE_ARTIFACT_TYPE, MAX_BUNDLE_BYTES, type SignatureState } from '../../core/signing/sigstore.ts';
import { readSmallBody } from '../../http/body.ts';
import type { Descriptor } from './manifests.ts';
import type { OciName } from './names.ts';

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const MAX_PAYLOAD = 64 * 1024;
/** Bounds the work one pull may cause: at most this many signature layers are read. */
const MAX_SIGNATURES = 32;

export type { SignatureState };

interface StoredMeta {
  mediaType: string;
  artifactType?: string;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/** True for a manifest that is itself a signature (always pullable, or nobody could verify anything). */
export function isSignatureManifest(meta: StoredMeta): boolean {
  return meta.artifactType === COSIGN_SIG_ARTIFACT || meta.artifactType === BUNDLE_ARTIFACT_TYPE || !!meta.layers?.some((l) => l.mediaType === SIMPLE_SIGNING || l.mediaType === BUNDLE_ARTIFACT_TYPE);
}

/** Reads a small blob, or undefined when it is missing or too large. */
async function small(core: Core, digest: string, size: number, max: number): Promise<Buffer | undefined> {
  if (size > max) return undefined;
  try {
    return await readSmallBody(await core.blobs.open(digest), max);
  } catch {
    return undefined;
  }
}

/** The signatures attached to `digest` in this repository, read, then judged by core.signing. */
export async function verifyImage(core: Core, pkg: PackageRow, n: OciName, digest: string): Promise<SignatureState> {
  const candidates: StoredMeta[] = [];
  const tag = `${digest.replace(':', '-')}.sig`;
  const tagged = (await core.packages.tags(pkg.id)).find((t) => t.name === tag);
  const versions = [
    ...(tagged ? [await core.packages.version(pkg.id, tagged.version)] : []),
    ...(await core.packages.versionsWithProperty(pkg.id, 'oci.subject', digest)),
  ];
  for (const v of versions) if (v) candidates.push(JSON.parse(v.metadata) as StoredMeta);
  const simple: { payload: Buffer; signature: string }[] = [];
  const bundles: Buffer[] = [];
  let budget = MAX_SIGNATURES;
  for (const m of candidates) {
    if (!isSignatureManifest(m)) continue;
    for (const layer of m.layers ?? []) {
      if (budget <= 0) break;
      if (layer.mediaType === SIMPLE_SIGNING) {
        const sig = layer.annotations?.[SIGNATURE_ANNOTATION];
        if (!sig) continue;
        budget -= 1;
        const payload = await small(core, layer.digest, layer.size, MAX_PAYLOAD);
        if (payload) simple.push({ payload, signature: sig });
      } else if (layer.mediaType === BUNDLE_ARTIFACT_TYPE) {
        budget -= 1;
        const bytes = await small(core, layer.digest, layer.size, MAX_BUNDLE_BYTES);
        if (bytes) bundles.push(bytes);
      }
    }
  }
  return core.signing.verifyImage(pkg.owner_id, pkg.name, {
    digest, repository: n.full, simple, bundles,
    manifest: async () => readSmallBody(await core.blobs.open(digest), core.config.maxManifestSize),
  });
}
