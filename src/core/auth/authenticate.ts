// Credentials → Actor. Accepts what the clients send: `Bearer TOKEN` (npm, REST, OCI), `Basic user:TOKEN`
// or `Basic user:password` (Maven, Gradle, NuGet, gem URLs), and a bare token (RubyGems' Authorization header).
import { createHash } from 'node:crypto';
import type { Identity } from '../identity/identity.ts';
import { unauthorized } from '../errors.ts';
import { ALL_SCOPES, anonymous, type Actor } from './actor.ts';
import { looksLikeJwt, type RegistryTokens } from './registry-tokens.ts';
import type { TokenService } from './token-service.ts';
import { looksLikeToken } from './tokens.ts';

const PASSWORD_CACHE_MS = 5 * 60_000;

export class Authenticator {
  /** sha256(user:password) → user, so Basic-with-password clients don't pay scrypt on every request. */
  private readonly passwordCache = new Map<string, { actor: Actor; until: number }>();

  constructor(private readonly tokens: TokenService, private readonly identity: Identity, private readonly registryTokens: RegistryTokens) {}

  /**
   * The actor for an Authorization header; anonymous when absent; Unauthorized when present but wrong.
   * `service`: this server's registry service name, the audience a registry token must have been issued for.
   */
  async fromAuthorization(header: string | undefined, opts: { service?: string } = {}): Promise<Actor> {
    if (!header) return anonymous;
    const sp = header.indexOf(' ');
    const scheme = sp > 0 ? header.slice(0, sp).toLowerCase() : '';
    const value = sp > 0 ? header.slice(sp + 1).trim() : header.trim();
    if (scheme === 'bearer' && looksLikeJwt(value)) return this.fromRegistryToken(value, opts.service);
    if (scheme === 'bearer' || scheme === 'token' || (scheme === '' && looksLikeToken(value))) {
      const actor = await this.tokens.authenticate(value);
      if (!actor) throw unauthorized('bad credentials: the token is unknown, expired or revoked');
      return actor;
    }
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthorized('bad credentials');
      const user = decoded.slice(0, colon);
      const secret = decoded.slice(colon + 1);
      if (looksLikeToken(secret)) {
        const actor = await this.tokens.authenticate(secret);
        if (!actor) throw unauthorized('bad credentials: the token is unknown, expired or revoked');
        return actor;
      }
      return this.password(user, secret);
    }
    throw unauthorized('unsupported authorization scheme');
  }

  /**
   * A registry token: valid only for this service, while the token it was issued from is, and narrowed to the
   * repository actions it grants (authorize() honours `registry`: package scopes only, container images only).
   */
  private async fromRegistryToken(jwt: string, service: string | undefined): Promise<Actor> {
    const claims = await this.registryTokens.verify(jwt, service);
    if (!claims) throw unauthorized('the registry token is invalid or expired');
    const who = claims.wharf;
    if (who.kind === 'anonymous') return anonymous;
    let actor: Actor | null = null;
    if (who.tid != null) actor = await this.tokens.authenticateById(who.tid);
    else if (who.kind === 'user') {
      const u = await this.identity.ownerById(who.uid);
      if (u?.kind === 'user') actor = { kind: 'user', user: { id: u.id, name: u.name, isAdmin: u.is_admin === 1 }, scopes: ALL_SCOPES, tokenId: null };
    }
    if (!actor || actor.kind === 'anonymous') throw unauthorized('the credentials behind this registry token are no longer valid');
    // Whatever the credential behind it could do, a registry token carries at most the package scopes.
    const scopes = new Set([...actor.scopes].filter((s) => s.endsWith(':packages')));
    return { ...actor, scopes, registry: claims.access } as Actor;
  }

  /** Signs a user in with a password (all scopes: it is the person themself). */
  async password(user: string, password: string): Promise<Actor> {
    const key = createHash('sha256').update(`${user}\0${password}`).digest('hex');
    const hit = this.passwordCache.get(key);
    if (hit && hit.until > Date.now()) return hit.actor;
    const owner = await this.identity.checkPassword(user, password);
    if (!owner) throw unauthorized('bad credentials');
    const actor: Actor = { kind: 'user', user: { id: owner.id, name: owner.name, isAdmin: owner.is_admin === 1 }, scopes: ALL_SCOPES, tokenId: null };
    if (this.passwordCache.size > 1000) this.passwordCache.clear();
    this.passwordCache.set(key, { actor, until: Date.now() + PASSWORD_CACHE_MS });
    return actor;
  }
}
