// Sigstore verification: bundles (cosign v3 image signatures, npm provenance) checked with @sigstore/verify, and
// cosign's legacy simple-signing payloads. Key-based signatures are checked against the keys Wharf trusts;
// keyless ones (a Fulcio certificate plus transparency log or timestamp) against the operator's trusted root
// (WHARF_SIGSTORE_TRUSTED_ROOT) and then against the identity policies ("identity X from issuer Y").
// Everything read from a bundle is untrusted until the verifier has accepted it.
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import fs from 'node:fs';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { ASN1Obj, RFC3161Timestamp, X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier, type TrustMaterial } from '@sigstore/verify';
import { invalid } from '../errors.ts';

/** What cosign v3 attaches through the referrers API, and the bundle's own media type. */
export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** A bundle document larger than this is refused unread (real ones are a few KiB). */
export const MAX_BUNDLE_BYTES = 256 * 1024;
const IN_TOTO = 'application/vnd.in-toto+json';

/** An identity policy: a certificate's subject (SAN) matching `identity` (a regular expression, whole string) from `issuer`. */
export interface IdentityPolicy {
  id: number;
  identity: string;
  issuer: string;
  scope: string;
  createdAt?: string;
}

export interface KeyRef {
  fingerprint: string;
  publicPem: string;
}

/** Who signed, once verified: a trusted key, or a keyless identity (certificate SAN and OIDC issuer) at a time. */
export type SignatureState =
  | { state: 'signed'; kind: 'key'; key: string; format: 'bundle' | 'simple-signing' }
  | { state: 'signed'; kind: 'keyless'; identity: string; issuer: string; time: string | null; format: 'bundle' }
  | { state: 'invalid'; detail: string }
  | { state: 'unsigned' };

/** The trust an owner or image has set: keys and identity policies. */
export interface SigningTrustSet {
  keys: KeyRef[];
  identities: IdentityPolicy[];
}

/** Loads a Sigstore `trusted_root.json` (as the public-good instance publishes it); throws a readable error. */
export function loadTrustedRoot(file: string): TrustMaterial {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`WHARF_SIGSTORE_TRUSTED_ROOT: cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const root = TrustedRoot.fromJSON(doc);
    if (!root.certificateAuthorities.length && !root.tlogs.length) throw new Error('it names no certificate authority and no transparency log');
    return toTrustMaterial(root);
  } catch (e) {
    throw new Error(`WHARF_SIGSTORE_TRUSTED_ROOT: ${file} is not a Sigstore trusted root: ${(e as Error).message}`);
  }
}

/** Parses and validates a bundle document (bytes or parsed JSON); anything malformed is Invalid, never a crash. */
export function parseBundle(input: Buffer | string | unknown): Bundle {
  let doc = input;
  if (Buffer.isBuffer(input) || typeof input === 'string') {
    if (input.length > MAX_BUNDLE_BYTES) throw invalid(`a Sigstore bundle is at most ${MAX_BUNDLE_BYTES} bytes`);
    try {
      doc = JSON.parse(input.toString());
    } catch {
      throw invalid('the Sigstore bundle is not valid JSON');
    }
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('the Sigstore bundle must be a JSON object');
  try {
    return bundleFromJSON(doc);
  } catch (e) {
    throw invalid(`not a valid Sigstore bundle: ${String((e as Error)?.message ?? e).slice(0, 200)}`);
  }
}

/** The in-toto statement a DSSE bundle carries, parsed but not trusted; undefined for other bundles. */
export function statementOf(bundle: Bundle): { subject: { name?: string; digest: Record<string, string> }[]; predicateType?: string; predicate?: unknown } | undefined {
  if (bundle.content.$case !== 'dsseEnvelope') return undefined;
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== IN_TOTO) return undefined;
  let s: any;
  try {
    s = JSON.parse(Buffer.from(env.payload).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!s || typeof s !== 'object' || !Array.isArray(s.subject)) return undefined;
  const subject = s.subject
    .filter((x: any) => x && typeof x === 'object' && x.digest && typeof x.digest === 'object')
    .map((x: any) => ({ name: typeof x.name === 'string' ? x.name : undefined, digest: Object.fromEntries(Object.entries(x.digest).filter(([, v]) => typeof v === 'string')) as Record<string, string> }));
  return { subject, predicateType: typeof s.predicateType === 'string' ? s.predicateType : undefined, predicate: s.predicate };
}

/** Does the bundle sign this content (`sha256:<hex>` of an image manifest)? Its message digest, or a DSSE subject. */
export function bundleNamesDigest(bundle: Bundle, digest: string): boolean {
  const [alg, hex] = digest.split(':');
  if (bundle.content.$case === 'messageSignature') {
    const md = bundle.content.messageSignature.messageDigest;
    return alg === 'sha256' && !!md && Buffer.from(md.digest).toString('hex') === hex;
  }
  return !!statementOf(bundle)?.subject.some((s) => s.digest[alg] === hex);
}

/** A compiled identity pattern: the whole SAN must match, as cosign's --certificate-identity-regexp does when anchored. */
export function compileIdentity(pattern: string): RegExp {
  if (!pattern || pattern.length > 1000) throw invalid('an identity pattern is 1 to 1000 characters');
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch (e) {
    throw invalid(`the identity is not a valid regular expression: ${(e as Error).message}`);
  }
}

/** Checks an issuer URL as Fulcio records it (the OIDC `iss`). */
export function checkIssuer(issuer: string): string {
  if (!/^https?:\/\/[^\s]{1,500}$/.test(issuer)) throw invalid('the issuer must be the OIDC issuer URL, e.g. https://token.actions.githubusercontent.com');
  return issuer;
}

/** The time a verified bundle proves it was signed at: its transparency log entry, or its RFC 3161 timestamp. */
function signedAt(bundle: Bundle): string | null {
  const t = bundle.verificationMaterial.tlogEntries?.[0]?.integratedTime;
  if (t && Number(t) > 0) return new Date(Number(t) * 1000).toISOString();
  const ts = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps?.[0];
  if (ts) {
    try {
      return RFC3161Timestamp.parse(Buffer.from(ts.signedTimestamp)).signingTime.toISOString();
    } catch {
      return null;
    }
  }
  return null;
}

/** Fulcio's certificate extensions that say where a keyless signature was made (read after verification only). */
const BUILD_OIDS = {
  repository: '1.3.6.1.4.1.57264.1.12', // source repository URI
  commit: '1.3.6.1.4.1.57264.1.13', // source repository digest
  ref: '1.3.6.1.4.1.57264.1.14', // source repository ref
  workflow: '1.3.6.1.4.1.57264.1.18', // build config URI (the workflow file at a ref)
  run: '1.3.6.1.4.1.57264.1.21', // run invocation URI
} as const;

export type BuildFacts = Partial<Record<keyof typeof BUILD_OIDS, string>>;

function leafOf(bundle: Bundle): X509Certificate | undefined {
  const c = bundle.verificationMaterial.content;
  if (c.$case === 'certificate') return X509Certificate.parse(Buffer.from(c.certificate.rawBytes));
  if (c.$case === 'x509CertificateChain') return X509Certificate.parse(Buffer.from(c.x509CertificateChain.certificates[0].rawBytes));
  return undefined;
}

/** Build facts from a (verified) keyless bundle's certificate: repository, commit, ref, workflow, run. */
function buildFacts(bundle: Bundle): BuildFacts {
  let cert: X509Certificate | undefined;
  try {
    cert = leafOf(bundle);
  } catch {
    return {};
  }
  if (!cert) return {};
  // The certificate's extensions are parsed when first asked for: a malformed one throws there (a TypeError from
  // deep inside the parser, found by the fuzz test), and is then a fact the certificate does not state.
  const read = (oid: string) => {
    try {
      const ext = cert.extension(oid);
      if (!ext) return undefined;
      return ASN1Obj.parseBuffer(Buffer.from(ext.value)).value.toString('utf8');
    } catch {
      return undefined;
    }
  };
  const out: BuildFacts = {};
  for (const [k, oid] of Object.entries(BUILD_OIDS) as [keyof BuildFacts, string][]) {
    const v = read(oid);
    if (v) out[k] = v;
  }
  return out;
}

/** What verifying a bundle's signature came to: who signed (empty for a key), or the verifier's error. */
type Outcome = { identity: string; issuer: string; time: string | null } | { error: string };

const NO_TLOG = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 };

/** Verifies Sigstore bundles and simple signatures against keys, a trusted root and identity policies. */
export class SigstoreVerifier {
  /**
   * Outcomes of the cryptographic checks by `memoKey` (the bundle's bytes and what it signs): they never change,
   * only the trust applied to them does, and they cost ~20 ms a bundle, paid on every pull under the policy.
   */
  private readonly memo = new Map<string, Outcome>();

  /** `root` is the operator's trusted root (null: keyless signatures cannot be verified, keys still can). */
  constructor(readonly root: TrustMaterial | null) {}

  private remember(key: string | undefined, compute: () => Outcome): Outcome {
    if (key === undefined) return compute();
    const hit = this.memo.get(key);
    if (hit) return hit;
    const value = compute();
    if (this.memo.size >= 10_000) this.memo.clear();
    this.memo.set(key, value);
    return value;
  }

  static fromFile(file: string | undefined): SigstoreVerifier {
    return new SigstoreVerifier(file ? loadTrustedRoot(file) : null);
  }

  /**
   * Verifies a bundle over `artifact` (needed for a message signature; a DSSE envelope carries its payload) and
   * decides against the trust set. Never throws for a bad signature: the answer says why.
   */
  verifyBundle(bundle: Bundle, artifact: Buffer | undefined, trust: SigningTrustSet, memoKey?: string): SignatureState {
    try {
      const c = bundle.verificationMaterial.content;
      if (c.$case === 'publicKey') return this.verifyKeyed(bundle, artifact, trust.keys, memoKey);
      if (!this.root) return { state: 'invalid', detail: 'a keyless signature, but no Sigstore trusted root is configured (WHARF_SIGSTORE_TRUSTED_ROOT)' };
      const outcome = this.remember(memoKey, () => {
        try {
          return this.verifyKeyless(bundle, artifact);
        } catch (e) {
          return { error: describeError(e) };
        }
      });
      if ('error' in outcome) return { state: 'invalid', detail: outcome.error };
      const { identity, issuer, time } = outcome;
      const who = `${identity || '(no identity)'} from ${issuer || '(no issuer)'}`;
      if (!trust.identities.length) return { state: 'invalid', detail: `signed by ${who}, but no identity is trusted here: add one with \`wharf signing identity\`` };
      const ok = trust.identities.some((p) => p.issuer === issuer && identity.length <= 4096 && compileIdentity(p.identity).test(identity));
      if (!ok) return { state: 'invalid', detail: `signed by ${who}, which no identity policy here allows` };
      return { state: 'signed', kind: 'keyless', identity, issuer, time, format: 'bundle' };
    } catch (e) {
      return { state: 'invalid', detail: describeError(e) };
    }
  }

  /**
   * A keyless bundle checked against the trusted root (certificate chain, SCT, transparency log or timestamp,
   * signature): who signed it and when. Throws the verifier's error; no identity policy is applied here.
   */
  verifyKeyless(bundle: Bundle, artifact?: Buffer): { identity: string; issuer: string; time: string | null } {
    if (!this.root) throw new Error('no Sigstore trusted root is configured (WHARF_SIGSTORE_TRUSTED_ROOT)');
    const signer = new Verifier(this.root).verify(toSignedEntity(bundle, artifact));
    return { identity: signer.identity?.subjectAlternativeName ?? '', issuer: signer.identity?.extensions?.issuer ?? '', time: signedAt(bundle) };
  }

  /** A key-based bundle: any trusted key whose signature verifies; its log entries are checked when a root is set. */
  private verifyKeyed(bundle: Bundle, artifact: Buffer | undefined, keys: KeyRef[], memoKey?: string): SignatureState {
    if (!keys.length) return { state: 'invalid', detail: 'no trusted key for this content: register one with `wharf signing trust`' };
    let last = 'signature does not match any trusted key';
    for (const k of keys) {
      const publicKey = createPublicKey(k.publicPem);
      const finder = () => ({ publicKey, validFor: () => true });
      const material: TrustMaterial = this.root ? { ...this.root, publicKey: finder } : { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: finder };
      const entity = toSignedEntity(bundle, artifact);
      if (!this.root) {
        entity.tlogEntries = [];
        entity.timestamps = [];
      }
      const outcome = this.remember(memoKey === undefined ? undefined : `${memoKey}|${k.fingerprint}`, () => {
        try {
          new Verifier(material, NO_TLOG).verify(entity);
          return { identity: '', issuer: '', time: null };
        } catch (e) {
          return { error: describeError(e) };
        }
      });
      if (!('error' in outcome)) return { state: 'signed', kind: 'key', key: k.fingerprint, format: 'bundle' };
      if (!/SIGNATURE_ERROR/.test(outcome.error)) last = outcome.error;
    }
    return { state: 'invalid', detail: last };
  }

  /** Verified build facts of a keyless bundle (npm provenance): who built it, where, from which commit. */
  buildFacts(bundle: Bundle): BuildFacts {
    return buildFacts(bundle);
  }
}

/** Cosign's simple signing: the payload must name this digest (and repository), and a trusted key must have signed it. */
export function verifySimpleSigning(payload: Buffer, signatureB64: string, digest: string, repository: string, keys: KeyRef[]): SignatureState {
  let doc: { critical?: { identity?: { 'docker-reference'?: unknown }; image?: { 'docker-manifest-digest'?: unknown } } };
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { state: 'invalid', detail: 'the signature payload is not valid JSON' };
  }
  if (doc?.critical?.image?.['docker-manifest-digest'] !== digest) return { state: 'invalid', detail: 'the signature is for another digest' };
  const ref = doc.critical?.identity?.['docker-reference'];
  if (typeof ref === 'string' && repositoryOf(ref) !== repository) return { state: 'invalid', detail: `the signature is for another repository (${ref})` };
  if (!keys.length) return { state: 'invalid', detail: 'no trusted key for this image: register one with `wharf signing trust`' };
  const sig = Buffer.from(signatureB64, 'base64');
  for (const k of keys) if (verifySignature('sha256', payload, k.publicPem, sig)) return { state: 'signed', kind: 'key', key: k.fingerprint, format: 'simple-signing' };
  return { state: 'invalid', detail: 'signature does not match any trusted key' };
}

/** The repository a docker-reference names, without registry host, tag or digest. */
function repositoryOf(reference: string): string {
  let r = reference.split('@')[0];
  const parts = r.split('/');
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) r = parts.slice(1).join('/');
  return r.replace(/:[^/]+$/, '');
}

/** A verifier's error as one line: its code and message. */
export function describeError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = String(err?.message ?? e).slice(0, 300);
  return err?.code ? `${err.code}: ${msg}` : msg;
}

export type { Bundle };
