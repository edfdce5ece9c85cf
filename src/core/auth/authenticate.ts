// Credentials → Actor. Accepts what the clients send: `Bearer TOKEN` (npm, REST, OCI), `Basic user:TOKEN`
// or `Basic user:password` (Maven, Gradle, NuGet, gem URLs), and a bare token (RubyGems' Authorization header).
// Passwords pass the sign-in lockout (throttle.ts) first; tokens never do.
import type { AuditLog } from '../audit/audit.ts';
import { createHash } from 'node:crypto';
import { GenerationCache, scopedGeneration, type ChangeGeneration } from '../../db/changes.ts';
import type { Identity } from '../identity/identity.ts';
import { isWharfError, unauthorized } from '../errors.ts';
import { ALL_SCOPES, anonymous, type Actor } from './actor.ts';
import { looksLikeJwt, type RegistryTokens } from './registry-tokens.ts';
import type { LoginThrottle } from './throttle.ts';
import type { TokenService } from './token-service.ts';
import { looksLikeToken } from './tokens.ts';

export class Authenticator {
  /**
   * sha256(user, password) → user, so Basic-with-password clients don't pay scrypt on every request. Kept only while
   * `owners` is unchanged on every node: a password change, suspension or deletion anywhere empties it at once.
   */
  private readonly passwordCache: GenerationCache<Actor>;
  /** Password checks of one account run one at a time on a node, so a burst of guesses meets the lock it causes. */
  private readonly checking = new Map<string, Promise<unknown>>();

  constructor(
    private readonly tokens: TokenService,
    private readonly identity: Identity,
    private readonly registryTokens: RegistryTokens,
    readonly throttle: LoginThrottle,
    changes: ChangeGeneration,
    private readonly audit?: AuditLog,
  ) {
    this.passwordCache = new GenerationCache(scopedGeneration(changes, ['owners']), 1000);
  }

  /**
   * The actor for an Authorization header; anonymous when absent; Unauthorized when present but wrong;
   * TooManyRequests when it holds a password and the account or `ip` is locked out. `service`: this server's
   * registry service name, the audience a registry token must have been issued for.
   */
  async fromAuthorization(header: string | undefined, opts: { service?: string; ip?: string } = {}): Promise<Actor> {
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
      return this.password(user, secret, opts.ip);
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
      if (u?.kind === 'user' && !u.suspended_at) actor = { kind: 'user', user: { id: u.id, name: u.name, isAdmin: u.is_admin === 1 }, scopes: ALL_SCOPES, tokenId: null };
    }
    if (!actor || actor.kind === 'anonymous') throw unauthorized('the credentials behind this registry token are no longer valid');
    // Whatever the credential behind it could do, a registry token carries at most the package scopes.
    const scopes = new Set([...actor.scopes].filter((s) => s.endsWith(':packages')));
    return { ...actor, scopes, registry: claims.access } as Actor;
  }

  /**
   * Signs a user in with a password (all scopes: it is the person themself). Refused with 429 while the account or
   * the address `ip` is locked out, before any hashing; a wrong password counts against both.
   */
  async password(user: string, password: string, ip?: string): Promise<Actor> {
    const attempt = await this.throttle.check(user, ip);
    const key = createHash('sha256').update(`${user}\0${password}`).digest('hex');
    const actor = await this.passwordCache.get(key, () =>
      this.oneAtATime(attempt.account, async () => {
        // Another check of this account may have just locked it while this one waited.
        await this.throttle.check(user, ip);
        const owner = await this.identity.checkPassword(user, password);
        if (!owner) {
          await this.throttle.failed(attempt);
          // A failure that reached the password check is recorded (the lockout bounds how many there can be).
          const known = await this.identity.findOwner(user);
          const uid = known?.kind === 'user' ? known.id : null;
          await this.audit?.record(this.identity.database, { action: 'user.login_failed', actor: { kind: 'anonymous', via: { credential: 'password', ip } }, ownerId: uid, userId: uid, userName: user });
          throw unauthorized('bad credentials');
        }
        return { kind: 'user', user: { id: owner.id, name: owner.name, isAdmin: owner.is_admin === 1 }, scopes: ALL_SCOPES, tokenId: null } satisfies Actor;
      }),
    );
    await this.throttle.succeeded(attempt);
    return actor;
  }

  private async oneAtATime<T>(key: string, run: () => Promise<T>): Promise<T> {
    const before = this.checking.get(key) ?? Promise.resolve();
    const mine = before.then(run, run);
    const settled = mine.then(() => {}, () => {});
    this.checking.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.checking.get(key) === settled) this.checking.delete(key);
    }
  }
}

/** Is this the sign-in lockout's refusal (so a handler can say so, and set Retry-After)? */
export function isLockout(e: unknown): e is Error & { retryAfter: number } {
  return isWharfError(e) && e.kind === 'TooManyRequests';
}
