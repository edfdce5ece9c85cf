// Token format: PREFIX + 30 random base62 characters + 6 base62 characters of CRC-32 over the random part.
// The prefix (whp_ personal, whj_ job, whs_ trusted publishing) and the checksum let secret scanners recognise a Wharf token with
// no database; only sha256(token) is stored, and since tokens carry ~178 bits of entropy a fast hash suffices.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

export type TokenKind = 'pat' | 'job' | 'publisher';
const PREFIX: Record<TokenKind, string> = { pat: 'whp_', job: 'whj_', publisher: 'whs_' };
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(n: bigint, width: number): string {
  let s = '';
  while (n > 0n) {
    s = ALPHABET[Number(n % 62n)] + s;
    n /= 62n;
  }
  return s.padStart(width, '0');
}

function randomBase62(len: number): string {
  let out = '';
  while (out.length < len) {
    for (const b of randomBytes(len * 2)) {
      if (b < 248 && out.length < len) out += ALPHABET[b % 62]; // 248 = 4*62: no modulo bias
    }
  }
  return out;
}

function checksum(body: string): string {
  return base62(BigInt(crc32(Buffer.from(body))), 6);
}

/** A new token of `kind`, never stored in clear. */
export function mintToken(kind: TokenKind): string {
  const body = randomBase62(30);
  return PREFIX[kind] + body + checksum(body);
}

/** True when `token` has a Wharf prefix and a valid checksum (no database needed). */
export function looksLikeToken(token: string): boolean {
  const m = /^wh[pjs]_([0-9A-Za-z]{30})([0-9A-Za-z]{6})$/.exec(token);
  return !!m && checksum(m[1]) === m[2];
}

export function tokenKindOf(token: string): TokenKind | null {
  if (token.startsWith('whp_')) return 'pat';
  if (token.startsWith('whj_')) return 'job';
  if (token.startsWith('whs_')) return 'publisher';
  return null;
}

/** sha256 hex of the token: the only form stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * What a personal token may do, GitHub's scopes as the model: the package scopes for the registries, and one
 * scope per kind of management. Passwords and web sessions are the person themself and hold every scope; a
 * token holds only what it names, everywhere (REST, web, every format).
 */
export const SCOPES = [
  'read:packages', 'write:packages', 'delete:packages',
  /** Create repositories, change their visibility and collaborators, mint job tokens for them. */
  'repo',
  /** Manage organization memberships and settings (signing policy); `read:org` lists members. */
  'admin:org', 'read:org',
  /** Manage repository webhooks, and owner (organization or user) webhooks. */
  'admin:repo_hook', 'admin:org_hook',
  /** The user's own account: personal access tokens and the user's own signing policy. */
  'user',
  /** Site administration (other users, their tokens, instance settings); only site administrators hold it in effect. */
  'site_admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Parses a comma-separated scope list; write and delete imply read, admin:org implies read:org (as on GitHub). */
export function parseScopes(list: string): Set<Scope> {
  const out = new Set<Scope>();
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(SCOPES as readonly string[]).includes(raw)) throw new Error(`unknown scope: ${raw} (known: ${SCOPES.join(', ')})`);
    out.add(raw as Scope);
  }
  if (out.has('write:packages') || out.has('delete:packages')) out.add('read:packages');
  if (out.has('admin:org')) out.add('read:org');
  return out;
}

/** `30d`, `12h`, `15m`, `3600s` → milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(s.trim());
  if (!m) throw new Error(`bad duration: ${s} (use e.g. 30d, 12h, 15m)`);
  const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}
