// Verifying OpenID Connect ID tokens from CI providers (GitHub Actions, GitLab CI, any issuer with a JWKS): the
// signature against the issuer's keys, fetched over HTTPS from its discovery document (or a configured JWKS URL)
// and cached by jose with rotation (an unknown `kid` refetches, at most every 30 s); then iss, aud, exp, nbf and
// iat with a minute of skew. Only issuers the operator lists (WHARF_OIDC_ISSUERS) are ever fetched, so a policy
// cannot make Wharf request an address of the attacker's choosing.
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { createRemoteJWKSet, customFetch, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import { unauthorized } from '../errors.ts';

/** Seconds of clock skew allowed on exp, nbf and iat. */
export const CLOCK_SKEW_SECONDS = 60;
/** An ID token older than this (by its iat) is refused whatever its exp says. */
const MAX_TOKEN_AGE = '1h';
const MAX_DOCUMENT = 256 * 1024;
const FETCH_TIMEOUT_MS = 5000;
const DISCOVERY_TTL_MS = 3600_000;

/** An issuer as configured and compared: the URL without trailing slashes. */
export const normalizeIssuer = (iss: string): string => iss.replace(/\/+$/, '');

/** The well-known issuers and how their claims are named. */
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
export const GITLAB_ISSUER = 'https://gitlab.com';

export class IdTokenVerifier {
  private readonly issuers: Set<string>;
  private readonly ca: (string | Buffer)[] | undefined;
  private readonly jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  private readonly discovered = new Map<string, { jwksUri: string; at: number }>();
  private readonly cooldownMs: number;

  /** `cooldownMs`: the least time between two JWKS fetches an unknown `kid` can cause (a forged kid cannot hammer the issuer). */
  constructor(o: { issuers: string[]; caFile?: string; cooldownMs?: number }) {
    this.cooldownMs = o.cooldownMs ?? 30_000;
    this.issuers = new Set(o.issuers.map(normalizeIssuer));
    this.ca = o.caFile ? [...tls.rootCertificates, fs.readFileSync(o.caFile)] : undefined;
  }

  /** Is this issuer one the operator accepts? */
  accepts(issuer: string): boolean {
    return this.issuers.has(normalizeIssuer(issuer));
  }

  get acceptedIssuers(): string[] {
    return [...this.issuers];
  }

  /** The issuer an ID token claims, before anything is verified (to choose the keys); Unauthorized when unreadable or not accepted. */
  claimedIssuer(idToken: string): string {
    let iss: unknown;
    try {
      iss = decodeJwt(idToken).iss;
    } catch {
      throw unauthorized('the ID token is not a JWT');
    }
    if (typeof iss !== 'string' || !this.accepts(iss)) throw unauthorized(`unknown issuer${typeof iss === 'string' ? ` ${JSON.stringify(iss.slice(0, 200))}` : ''}: this server does not accept its ID tokens`);
    return iss;
  }

  /**
   * Verifies an ID token of `issuer` (as the token spells it) for `audience`, with the keys at `jwksUrl` (else the
   * issuer's discovery document's). Unauthorized, saying why, when anything is wrong.
   */
  async verify(idToken: string, issuer: string, audience: string, jwksUrl?: string | null): Promise<JWTPayload & { iss: string; jti: string; exp: number }> {
    const keys = this.keySet(jwksUrl ?? (await this.discover(issuer)));
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, keys, { issuer, audience, clockTolerance: CLOCK_SKEW_SECONDS, maxTokenAge: MAX_TOKEN_AGE, requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'] }));
    } catch (e) {
      throw unauthorized(`the ID token was refused: ${reason(e, audience)}`);
    }
    if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > 200) throw unauthorized('the ID token was refused: its jti is missing or too long');
    return payload as JWTPayload & { iss: string; jti: string; exp: number };
  }

  private keySet(url: string) {
    let set = this.jwks.get(url);
    if (!set) {
      set = createRemoteJWKSet(new URL(url), { timeoutDuration: FETCH_TIMEOUT_MS, cooldownDuration: this.cooldownMs, cacheMaxAge: 600_000, [customFetch]: (u: string) => this.fetch(u) });
      this.jwks.set(url, set);
    }
    return set;
  }

  /** The JWKS URL of `issuer`'s discovery document (cached an hour; failures are not). */
  private async discover(issuer: string): Promise<string> {
    const key = normalizeIssuer(issuer);
    const hit = this.discovered.get(key);
    if (hit && Date.now() - hit.at < DISCOVERY_TTL_MS) return hit.jwksUri;
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await this.fetch(`${key}/.well-known/openid-configuration`);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (e) {
      throw unauthorized(`the issuer's discovery document could not be read (${(e as Error).message})`);
    }
    if (typeof doc.issuer !== 'string' || normalizeIssuer(doc.issuer) !== key) throw unauthorized('the issuer\'s discovery document names another issuer');
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://')) throw unauthorized('the issuer\'s discovery document has no https jwks_uri');
    this.discovered.set(key, { jwksUri: doc.jwks_uri, at: Date.now() });
    return doc.jwks_uri;
  }

  /** GET over HTTPS only, no redirects, bounded in size and time; the extra CAs of WHARF_OIDC_CA_FILE trusted. */
  private fetch(url: string): Promise<Response> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      if (u.protocol !== 'https:') return reject(new Error('only https URLs are fetched'));
      const req = https.get(u, { ca: this.ca, timeout: FETCH_TIMEOUT_MS, headers: { accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_DOCUMENT) req.destroy(new Error('the document is too large'));
          else chunks.push(c);
        });
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') } })));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
    });
  }
}

/** Why jose refused a token, in words a CI log can show. */
function reason(e: unknown, audience: string): string {
  if (e instanceof errors.JWTExpired) return 'it has expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return `its audience is not ${audience}`;
    if (e.claim === 'nbf') return 'it is not valid yet';
    if (e.claim === 'iat') return 'it is too old or issued in the future';
    return `its ${e.claim} claim is invalid (${e.reason})`;
  }
  if (e instanceof errors.JWKSNoMatchingKey) return 'it is signed with a key the issuer does not publish';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (e instanceof errors.JWKSTimeout) return 'the issuer\'s keys could not be fetched in time';
  if (e instanceof errors.JOSEError) return `${e.code}`;
  return `the issuer's keys could not be fetched (${(e as Error).message})`;
}
