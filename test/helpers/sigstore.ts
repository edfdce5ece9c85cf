// Keyless signing without the internet: @sigstore/mock's Fulcio, Rekor and timestamp authority served on a local
// port, @sigstore/sign producing real bundles against them, and a trusted_root.json built from the mock's keys
// (the file an operator points WHARF_SIGSTORE_TRUSTED_ROOT at). A second Fulcio, absent from the root, issues
// certificates Wharf must refuse.
import { createHash, generateKeyPairSync, sign as signBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler, type HandlerFn } from '@sigstore/mock';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness, type Signer } from '@sigstore/sign';
import { blob, emptyConfig, imageManifest, type Manifest } from './oci.ts';
import { tempDir } from './wharf.ts';

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

/** An unsigned JWT: the mock Fulcio only decodes the token (its claims become the certificate's identity). */
export function idToken(claims: Record<string, unknown>): string {
  const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'none', typ: 'JWT' })}.${b({ iss: GITHUB_ISSUER, aud: 'sigstore', iat: Math.floor(Date.now() / 1000), ...claims })}.sig`;
}

/** GitHub Actions' claims for a workflow run of `repository`, as Fulcio turns them into certificate extensions. */
export function githubClaims(repository: string, workflow = '.github/workflows/release.yml', sha = 'a'.repeat(40)): Record<string, string> {
  const ref = 'refs/heads/main';
  return {
    sub: `https://github.com/${repository}/${workflow}@${ref}`,
    repository, ref, sha, workflow: 'release', workflow_ref: `${repository}/${workflow}@${ref}`, job_workflow_ref: `${repository}/${workflow}@${ref}`,
    repository_owner: repository.split('/')[0], event_name: 'push', run_id: '42', run_attempt: '1', runner_environment: 'github-hosted',
  };
}

export interface MockSigstore {
  url: string;
  /** Path of trusted_root.json naming the mock's CA, Rekor, CT log and TSA. */
  trustedRoot: string;
  /** A keyless DSSE bundle (in-toto statement) signed for `claims`' identity. `untrusted`: by a CA outside the root. */
  dsse(statement: unknown, claims: Record<string, unknown>, opts?: { untrusted?: boolean }): Promise<Record<string, unknown>>;
  /** A keyless message-signature bundle over `data`. */
  message(data: Buffer, claims: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** A key-based DSSE bundle signed by `key` (as `cosign sign --key` with the new bundle format), logged in Rekor. */
  dsseWithKey(statement: unknown, key: KeyObject, publicPem: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts the mock services and writes the trusted root. */
export async function startMockSigstore(): Promise<MockSigstore> {
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  // The signers reuse kept-alive sockets and do not retry (retry: false): a server closing an idle socket (Node's
  // default after 5 s) as a client reuses it made an entry fail now and then ("error creating tlog entry").
  const server = http.createServer();
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ctlog = await initializeCTLog(ec());
  const ca = await initializeCA(ec(), ctlog);
  const otherCa = await initializeCA(ec(), ctlog);
  const tlog = await initializeTLog(`${url}/rekor`, ec());
  // The TSA's time in whole seconds, moved on before each request: with milliseconds, the mock may write a
  // GeneralizedTime fraction of fewer than three digits ("…12.5Z"), which @sigstore/core refuses ("invalid time").
  const tsaClock = new Date(Math.floor(Date.now() / 1000) * 1000);
  const tsa = await initializeTSA(ec(), tsaClock);
  const routes = new Map<string, HandlerFn>();
  const mount = (prefix: string, h: { path: string; fn: HandlerFn }) => routes.set(`${prefix}${h.path}`, h.fn);
  mount('/fulcio', fulcioHandler(ca));
  mount('/other-fulcio', fulcioHandler(otherCa));
  mount('/rekor', rekorHandler(tlog));
  mount('/tsa', tsaHandler(tsa));
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const fn = routes.get(req.url ?? '');
      if (!fn || req.method !== 'POST') return res.writeHead(404).end();
      tsaClock.setTime(Math.floor(Date.now() / 1000) * 1000);
      const r = await fn(Buffer.concat(chunks).toString());
      res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'text/plain' }).end(typeof r.response === 'string' ? r.response : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength));
    });
  });

  const b64 = (b: ArrayBufferView | Buffer) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  // The root's validity starts before every signature (timestamps are whole seconds).
  const validFor = { start: new Date(Date.now() - 5 * 60_000).toISOString() };
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: `${url}/rekor`, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: b64(tlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor }, logId: { keyId: createHash('sha256').update(tlog.publicKey).digest('base64') } }],
    certificateAuthorities: [{ subject: { organization: 'sigstore.mock', commonName: 'sigstore' }, uri: `${url}/fulcio`, certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] }, validFor }],
    ctlogs: [{ baseUrl: `${url}/ct`, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: b64(ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor }, logId: { keyId: b64(ctlog.logID) } }],
    timestampAuthorities: [{ subject: { organization: 'sigstore.mock', commonName: 'tsa' }, uri: `${url}/tsa`, certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] }, validFor }],
  };
  const trustedRoot = path.join(tempDir('wharf-sigstore-'), 'trusted_root.json');
  fs.writeFileSync(trustedRoot, JSON.stringify(root, null, 2));

  const witnesses = () => [new RekorWitness({ rekorBaseURL: `${url}/rekor`, entryType: 'intoto', retry: false }), new TSAWitness({ tsaBaseURL: `${url}/tsa/api/v1/timestamp`, retry: false })];
  const fulcio = (claims: Record<string, unknown>, untrusted = false) =>
    new FulcioSigner({ fulcioBaseURL: `${url}/${untrusted ? 'other-fulcio' : 'fulcio'}`, identityProvider: { getToken: async () => idToken(claims) }, retry: false });
  const json = (b: Bundle) => bundleToJSON(b) as Record<string, unknown>;
  const statementBytes = (s: unknown) => Buffer.from(typeof s === 'string' ? s : JSON.stringify(s));
  return {
    url,
    trustedRoot,
    async dsse(statement, claims, opts = {}) {
      const b = await new DSSEBundleBuilder({ signer: fulcio(claims, opts.untrusted), witnesses: witnesses() }).create({ data: statementBytes(statement), type: 'application/vnd.in-toto+json' });
      return json(b);
    },
    async message(data, claims) {
      return json(await new MessageSignatureBundleBuilder({ signer: fulcio(claims), witnesses: witnesses() }).create({ data }));
    },
    async dsseWithKey(statement, key, publicPem) {
      const signer: Signer = { sign: async (data) => ({ signature: signBytes('sha256', data, key), key: { $case: 'publicKey', publicKey: publicPem, hint: '' } }) };
      return json(await new DSSEBundleBuilder({ signer, witnesses: [new RekorWitness({ rekorBaseURL: `${url}/rekor`, entryType: 'intoto', retry: false })] }).create({ data: statementBytes(statement), type: 'application/vnd.in-toto+json' }));
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The in-toto statement cosign v3 signs for an image (predicate type https://sigstore.dev/cosign/sign/v1). */
export function imageStatement(reference: string, digest: string): Record<string, unknown> {
  return { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: reference, digest: { sha256: digest.replace(/^sha256:/, '') } }], predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} };
}

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** The referrer cosign v3 pushes: empty config, the bundle as its one layer, the image as subject. */
export function bundleArtifact(bundle: unknown, subject: Manifest): Manifest {
  const layer = blob(Buffer.from(JSON.stringify(bundle)), BUNDLE);
  return imageManifest({
    config: emptyConfig(), layers: [layer], subject, artifactType: BUNDLE,
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1', 'org.opencontainers.image.created': new Date().toISOString() },
  });
}

export const SLSA_V1 = 'https://slsa.dev/provenance/v1';

/** The statement npm's generateProvenance makes in GitHub Actions (lib/provenance.js), for one subject. */
export function npmProvenanceStatement(subject: { name: string; digest: { sha512: string } }, repository: string) {
  return {
    _type: 'https://in-toto.io/Statement/v1', subject: [subject], predicateType: SLSA_V1,
    predicate: {
      buildDefinition: {
        buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
        externalParameters: { workflow: { ref: 'refs/heads/main', repository: `https://github.com/${repository}`, path: '.github/workflows/release.yml' } },
        internalParameters: { github: { event_name: 'push', repository_id: '1', repository_owner_id: '2' } },
        resolvedDependencies: [{ uri: `git+https://github.com/${repository}@refs/heads/main`, digest: { gitCommit: 'a'.repeat(40) } }],
      },
      runDetails: { builder: { id: 'https://github.com/actions/runner/github-hosted' }, metadata: { invocationId: `https://github.com/${repository}/actions/runs/42/attempts/1` } },
    },
  };
}
