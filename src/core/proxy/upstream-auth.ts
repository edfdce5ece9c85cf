// Credentials for an upstream, as registries ask for them: plain Basic (the proxy's username and password on every
// request), or Docker token authentication — the registry answers 401 `WWW-Authenticate: Bearer realm=…,service=…,
// scope=…`, the token endpoint (the realm) is asked with the proxy's Basic credentials (or none: Docker Hub gives
// anonymous pull tokens), and the request is sent again with `Authorization: Bearer <token>`. Tokens are kept per
// proxy and scope until shortly before they expire, so later requests carry them at once (one round trip, not three).
import { isWharfError, upstreamError } from '../errors.ts';
import type { ProxyConfig } from './proxies.ts';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** The first challenge of a WWW-Authenticate header (`Bearer realm="…",service="…",scope="…"`), lower-cased scheme. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  let p: RegExpExecArray | null;
  while (m[2] && (p = re.exec(m[2]))) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

/** The Basic credentials of a proxy, if it has an account upstream. */
export const basicOf = (proxy: ProxyConfig): string | undefined =>
  proxy.username ? `Basic ${Buffer.from(`${proxy.username}:${proxy.password ?? ''}`).toString('base64')}` : undefined;

/** Bearer tokens from upstream token endpoints, by proxy and scope. */
export class UpstreamTokens {
  private readonly tokens = new Map<string, { token: string; until: number }>();

  /** A token still valid for `scope` (a hint the format gives: `repository:library/alpine:pull`). */
  cached(proxy: ProxyConfig, scope: string | undefined): string | undefined {
    if (!scope) return undefined;
    const t = this.tokens.get(`${proxy.ownerId}|${proxy.upstream}|${scope}`);
    return t && t.until > Date.now() ? t.token : undefined;
  }

  /**
   * Asks the challenge's realm for a token (with the proxy's Basic credentials when it has some), keeps it under
   * `scope` (else the challenge's own scope) and returns it. Fails with Upstream: the upstream refused us.
   */
  async fetch(proxy: ProxyConfig, challenge: Challenge, scope: string | undefined, signal: AbortSignal): Promise<string> {
    // The realm is any URL the upstream names: its answer is read only as far as a token can be long.
    const realm = challenge.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw upstreamError('the upstream asked for a token but named no valid realm');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw upstreamError('the upstream\'s token realm is not http(s)');
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    const wanted = challenge.params.scope ?? scope;
    if (wanted) url.searchParams.set('scope', wanted);
    if (proxy.username) url.searchParams.set('account', proxy.username);
    const headers: Record<string, string> = { 'user-agent': 'Wharf-proxy', accept: 'application/json' };
    const basic = basicOf(proxy);
    if (basic) headers.authorization = basic;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal, redirect: 'manual' });
    } catch (e) {
      throw upstreamError(`the upstream's token endpoint ${url.origin} could not be reached: ${(e as Error).message}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw upstreamError(`the upstream's token endpoint answered ${res.status}${basic ? ' (check the proxy\'s username and password)' : ''}`);
    }
    const text = await boundedText(res, MAX_TOKEN_ANSWER);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text);
    } catch {
      throw upstreamError('the upstream\'s token endpoint did not answer JSON');
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token || !/^[\x21-\x7e]+$/.test(token)) throw upstreamError('the upstream\'s token endpoint gave no usable token');
    // The spec's default lifetime is 60 s; keep it a little less than it says, so it never expires in flight.
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    const key = scope ?? wanted;
    if (key) {
      this.tokens.set(`${proxy.ownerId}|${proxy.upstream}|${key}`, { token, until: Date.now() + Math.max(seconds - 10, 1) * 1000 });
      if (this.tokens.size > 10_000) this.tokens.delete(this.tokens.keys().next().value!);
    }
    return token;
  }
}

/** The most of a token endpoint's answer that is read: a token is a few KiB. */
const MAX_TOKEN_ANSWER = 64 * 1024;

/** A response's text, refused (and the rest not read) once it passes `max` bytes; a broken body is the upstream's failure. */
async function boundedText(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Buffer[] = [];
  let n = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.byteLength;
      if (n > max) throw upstreamError(`the upstream's token answer is larger than ${max} bytes`);
      chunks.push(Buffer.from(value));
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    if (isWharfError(e)) throw e;
    throw upstreamError(`reading the upstream's token answer failed: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}
