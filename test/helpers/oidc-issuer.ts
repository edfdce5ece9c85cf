// A test OpenID Connect issuer: an HTTPS server with its own self-signed certificate (made with openssl), a
// discovery document, a JWKS endpoint, RS256 keys, and GitHub Actions' ID token endpoint (what
// ACTIONS_ID_TOKEN_REQUEST_URL points at: GET ?audience=…, `Authorization: Bearer <request token>`, → {value}).
// Wharf trusts its certificate through WHARF_OIDC_CA_FILE (in process) or NODE_EXTRA_CA_CERTS (a child process).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { tempDir } from './wharf.ts';

export interface TestIssuer {
  /** The issuer URL (https://127.0.0.1:PORT), as `iss` and in the discovery document. */
  url: string;
  /** The PEM file of its self-signed certificate: the CA to trust. */
  caFile: string;
  /** GitHub's ID token request endpoint (ACTIONS_ID_TOKEN_REQUEST_URL) and the bearer it wants. */
  tokenEndpoint: string;
  requestToken: string;
  /** Claims the token endpoint puts in the next tokens it issues (besides iss, aud, iat, exp, jti). */
  claims: Record<string, unknown>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  /** Signs an ID token; `key: 'rogue'` uses a key the JWKS does not publish. */
  sign(claims: Record<string, unknown>, o?: { aud?: string; expiresIn?: number; iat?: number; nbf?: number; jti?: string | null; key?: 'main' | 'rogue'; iss?: string }): Promise<string>;
  /** Replaces the published key (rotation); later tokens are signed with the new one. */
  rotate(): Promise<void>;
  close(): Promise<void>;
}

/** GitHub Actions' claims for a run of `repository`'s `workflow` on main. */
export function githubClaims(repository: string, workflow = 'release.yml', extra: Record<string, unknown> = {}): Record<string, unknown> {
  const [owner] = repository.split('/');
  return {
    sub: `repo:${repository}:ref:refs/heads/main`, repository, repository_owner: owner, repository_id: '4242', repository_owner_id: '99',
    repository_visibility: 'private', ref: 'refs/heads/main', ref_type: 'branch', sha: 'a'.repeat(40), run_id: '123456', run_number: '7', run_attempt: '1',
    workflow: 'Release', event_name: 'push', actor: 'octocat',
    workflow_ref: `${repository}/.github/workflows/${workflow}@refs/heads/main`, job_workflow_ref: `${repository}/.github/workflows/${workflow}@refs/heads/main`,
    ...extra,
  };
}

/** GitLab CI's claims for a job of `projectPath`. */
export function gitlabClaims(projectPath: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const namespace = projectPath.split('/').slice(0, -1).join('/');
  return {
    sub: `project_path:${projectPath}:ref_type:branch:ref:main`, project_path: projectPath, namespace_path: namespace, project_id: '77', namespace_id: '7',
    ref: 'main', ref_type: 'branch', pipeline_id: '555', job_id: '9001', user_login: 'alice',
    ci_config_ref_uri: `gitlab.example.com/${projectPath}//.gitlab-ci.yml@refs/heads/main`, ci_config_sha: 'b'.repeat(40),
    ...extra,
  };
}

export async function startIssuer(): Promise<TestIssuer> {
  const dir = tempDir('wharf-oidc-');
  const keyFile = path.join(dir, 'key.pem');
  const caFile = path.join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', caFile,
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  let keys = await newKey();
  const rogue = await newKey();
  let fetches = 0;
  const requestToken = `req-${randomUUID()}`;
  let url = '';
  const server = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(caFile) }, async (req, res) => {
    const u = new URL(req.url ?? '/', url);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/.well-known/openid-configuration') return send(200, { issuer: url, jwks_uri: `${url}/.well-known/jwks`, id_token_signing_alg_values_supported: ['RS256'] });
    if (u.pathname === '/.well-known/jwks') {
      fetches++;
      return send(200, { keys: [keys.jwk] });
    }
    if (u.pathname === '/token') {
      if (req.headers.authorization !== `Bearer ${requestToken}`) return send(401, { message: 'bad request token' });
      return send(200, { count: 1, value: await issuer.sign(issuer.claims, { aud: u.searchParams.get('audience') ?? undefined }) });
    }
    send(404, { message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer: TestIssuer = {
    url, caFile, requestToken, claims: {},
    tokenEndpoint: `${url}/token`,
    jwksFetches: () => fetches,
    async sign(claims, o = {}) {
      const k = o.key === 'rogue' ? rogue : keys;
      const now = Math.floor(Date.now() / 1000);
      const iat = o.iat ?? now;
      let jwt = new SignJWT({ ...claims, ...(o.nbf !== undefined ? { nbf: o.nbf } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid: k.jwk.kid, typ: 'JWT' })
        .setIssuer(o.iss ?? url)
        .setIssuedAt(iat)
        .setExpirationTime(iat + (o.expiresIn ?? 300));
      if (o.aud !== undefined) jwt = jwt.setAudience(o.aud);
      if (o.jti !== null) jwt = jwt.setJti(o.jti ?? randomUUID());
      return jwt.sign(k.privateKey);
    },
    async rotate() {
      keys = await newKey();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return issuer;
}

async function newKey(): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  return { privateKey: privateKey as CryptoKey, jwk };
}
