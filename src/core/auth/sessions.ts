// Web UI sign-ins. The browser holds a random secret in an HttpOnly cookie; the database holds only its sha256
// (as for tokens: the secret has 256 bits of entropy, so a fast hash suffices and a leaked table opens nothing).
// A session is the person themself (all scopes), so it is only ever read by the web UI, never by a format or the
// REST API: a cookie sent along by a browser must not authorize a cross-site `PUT /npm/...`.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { nowIso } from '../clock.ts';
import { ALL_SCOPES, type Actor } from './actor.ts';

/** How long a sign-in lasts. */
export const SESSION_TTL_MS = 14 * 864e5;

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

const CSRF_KEY_ALG = 'csrf-hmac';

export class Sessions {
  private csrfKey: Promise<Buffer> | null = null;
  private csrfKeyLoaded: Buffer | null = null;

  constructor(private readonly db: Db, private readonly ttlMs = SESSION_TTL_MS) {}

  /**
   * The CSRF token for a signed-out visitor's forms (sign-in, sign-up): an HMAC under a server secret of the
   * visitor's random cookie. The visitor chooses the cookie but cannot compute the token for it, so a page that
   * sets a cookie of its choosing still cannot forge a form. The secret is generated once and kept in the
   * database, so every node agrees.
   */
  anonymousCsrf(cookieValue: string): string {
    if (!this.csrfKeyLoaded) throw new Error('Sessions.loadCsrfKey() must be awaited first');
    return csrfTokenFor(createHmac('sha256', this.csrfKeyLoaded).update(`anon:${cookieValue}`).digest('base64url'));
  }

  /** Loads (or creates) the server secret behind anonymousCsrf. */
  async loadCsrfKey(): Promise<void> {
    this.csrfKey ??= (async () => {
      const oldest = () => this.db.selectFrom('signing_keys').select('private_jwk').where('algorithm', '=', CSRF_KEY_ALG).orderBy('created_at').limit(1).executeTakeFirst();
      let row = await oldest();
      if (!row) {
        await this.db
          .insertInto('signing_keys')
          .values({ kid: `csrf-${randomBytes(8).toString('hex')}`, algorithm: CSRF_KEY_ALG, private_jwk: JSON.stringify({ k: randomBytes(32).toString('base64url') }), public_jwk: '{}', created_at: nowIso() })
          .execute();
        row = (await oldest())!; // two nodes may have raced: everyone uses the oldest
      }
      return Buffer.from((JSON.parse(row.private_jwk) as { k: string }).k, 'base64url');
    })();
    this.csrfKey.catch(() => (this.csrfKey = null));
    this.csrfKeyLoaded = await this.csrfKey;
  }

  /** Starts a session for a user; returns the secret for the cookie (shown to nobody else, stored hashed). */
  async create(userId: number): Promise<{ secret: string; expiresAt: string }> {
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = nowIso(Date.now() + this.ttlMs);
    await this.db.insertInto('sessions').values({ id_hash: hashOf(secret), user_id: userId, created_at: nowIso(), expires_at: expiresAt }).execute();
    // Expired rows of this user go now: no background job needed, and the table stays small.
    await this.db.deleteFrom('sessions').where('user_id', '=', userId).where('expires_at', '<=', nowIso()).execute();
    return { secret, expiresAt };
  }

  /** The signed-in user for a cookie secret, or null when unknown or expired. One indexed lookup. */
  async actorFor(secret: string): Promise<Actor | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return null;
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('owners', 'owners.id', 'sessions.user_id')
      .select(['owners.id', 'owners.name', 'owners.is_admin', 'owners.kind', 'owners.suspended_at', 'sessions.expires_at'])
      .where('sessions.id_hash', '=', hashOf(secret))
      .executeTakeFirst();
    if (!row || row.kind !== 'user' || row.suspended_at || row.expires_at <= nowIso()) return null;
    return { kind: 'user', user: { id: row.id, name: row.name, isAdmin: row.is_admin === 1 }, scopes: ALL_SCOPES, tokenId: null };
  }

  /** Ends a session (sign out). */
  async destroy(secret: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', hashOf(secret)).execute();
  }

  /** Ends every session of a user (a password change, suspension and deletion do it in their own transaction). */
  async destroyAll(userId: number): Promise<void> {
    await this.db.deleteFrom('sessions').where('user_id', '=', userId).execute();
  }
}

/**
 * The CSRF token for forms shown with this cookie secret: an HMAC keyed by the secret, so it needs no storage and
 * a cross-site page, which cannot read the HttpOnly cookie, cannot compute it.
 */
export function csrfTokenFor(secret: string): string {
  return createHmac('sha256', secret).update('wharf csrf v1').digest('base64url');
}
