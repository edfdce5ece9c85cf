// npm provenance: the Sigstore bundle `npm publish --provenance` sends beside the tarball (a DSSE envelope over an
// in-toto statement whose one subject is the package's purl and the tarball's sha512, and a SLSA predicate).
// At publish it is checked to be about this tarball, without trusting it; on display it is verified against the
// operator's trusted root and its Fulcio certificate says which workflow, repository and commit built it.
import type { Bundle } from '@sigstore/bundle';
import { invalid } from '../errors.ts';
import { describeError, parseBundle, statementOf, type BuildFacts, type SigstoreVerifier } from './sigstore.ts';

export const PROVENANCE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** The package URL npm puts in the statement's subject (npm-package-arg's toPurl, default registry). */
export function npmPurl(name: string, version: string): string {
  return `pkg:npm/${name.replace(/^@/, '%40')}@${version}`;
}

/**
 * Checks that a provenance bundle is about exactly this tarball: one subject, named `purl`, whose sha512 is the
 * tarball's. Returns the parsed bundle and its predicate type. Nothing in it is trusted yet.
 */
export function checkProvenance(input: string | Buffer | unknown, purl: string, sha512Hex: string): { bundle: Bundle; predicateType: string } {
  const bundle = parseBundle(input);
  const statement = statementOf(bundle);
  if (!statement) throw invalid('the provenance bundle must hold a DSSE envelope with an in-toto statement');
  if (statement.subject.length !== 1) throw invalid('the provenance statement must have exactly one subject');
  const [subject] = statement.subject;
  if (subject.name !== purl) throw invalid(`the provenance subject ${String(subject.name).slice(0, 200)} is not this package (${purl})`);
  if (subject.digest.sha512 !== sha512Hex) throw invalid('the provenance subject digest is not this tarball\'s sha512');
  if (!statement.predicateType) throw invalid('the provenance statement has no predicateType');
  return { bundle, predicateType: statement.predicateType };
}

export type ProvenanceState =
  | ({ state: 'verified'; summary: string; identity: string; issuer: string; time: string | null } & BuildFacts)
  | { state: 'invalid'; detail: string }
  | { state: 'unverified'; detail: string };

/** Verifies a stored provenance bundle against the trusted root and reads who built the package. */
export function verifyProvenance(verifier: SigstoreVerifier, bytes: Buffer, purl: string, sha512Hex: string): ProvenanceState {
  let bundle: Bundle;
  try {
    bundle = checkProvenance(bytes, purl, sha512Hex).bundle;
  } catch (e) {
    return { state: 'invalid', detail: (e as Error).message };
  }
  if (!verifier.root) return { state: 'unverified', detail: 'no Sigstore trusted root is configured on this server (WHARF_SIGSTORE_TRUSTED_ROOT)' };
  if (bundle.verificationMaterial.content.$case === 'publicKey') return { state: 'unverified', detail: 'the provenance is signed with a key, not a Fulcio certificate' };
  // Any identity the root's CA certified: provenance says who built the package, it is not a policy.
  try {
    const signer = verifier.verifyKeyless(bundle);
    const facts = verifier.buildFacts(bundle);
    return { state: 'verified', summary: summaryOf(facts, signer.identity), ...signer, ...facts };
  } catch (e) {
    return { state: 'invalid', detail: describeError(e) };
  }
}

/** "Built by workflow W in repository R from commit C", from the certificate's facts (the workflow relative to R). */
export function summaryOf(f: BuildFacts, identity: string): string {
  const workflow = f.workflow ?? identity;
  const short = f.repository && workflow.startsWith(`${f.repository}/`) ? workflow.slice(f.repository.length + 1) : workflow;
  return `Built by workflow ${short}${f.repository ? ` in repository ${f.repository}` : ''}${f.commit ? ` from commit ${f.commit}` : ''}`;
}
