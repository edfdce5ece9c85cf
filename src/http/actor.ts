// Puts the request's Actor on every request, once, before any route runs.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../core/auth/actor.ts';
import { anonymous, credentialOf } from '../core/auth/actor.ts';
import type { Core } from '../core/core.ts';
import { isWharfError } from '../core/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
}

export function installAuthentication(app: FastifyInstance, core: Core): void {
  app.decorateRequest('actor', null as never);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    req.actor = anonymous;
    // The OIDC exchange's Authorization is a CI provider's ID token (npm sends it as Bearer): the route verifies it.
    if ((req.routeOptions.config as { idToken?: boolean } | undefined)?.idToken) {
      req.actor = { kind: 'anonymous', via: { credential: 'anonymous', ip: req.ip } };
      return;
    }
    const actor = await withRetryAfter(reply, () => core.authn.fromAuthorization(req.headers.authorization, { service: registryServiceOf(core, req), ip: req.ip }));
    // Every actor carries where it came from (audit log); the shared anonymous constant stays untouched.
    req.actor = actor.kind === 'anonymous' ? (req.ip ? { kind: 'anonymous', via: { credential: 'anonymous', ip: req.ip } } : actor) : { ...actor, via: { credential: credentialOf(actor), ip: req.ip } };
  });
}

/** Runs `f`; a sign-in lockout it meets sets Retry-After before each format renders the 429 in its own format. */
export async function withRetryAfter<T>(reply: FastifyReply, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isWharfError(e) && e.retryAfter) reply.header('retry-after', String(e.retryAfter));
    throw e;
  }
}

/** The server's public base URL: WHARF_BASE_URL, else what the client used to reach us. */
export function baseUrlOf(core: Core, req: FastifyRequest): string {
  return core.config.baseUrl ?? `${req.protocol}://${req.headers.host ?? `localhost:${core.config.port}`}`;
}

/**
 * This server's name in Docker token auth (the challenge's `service`, a registry token's audience): the host of
 * WHARF_BASE_URL, else the Host the client used. A token issued for any other service is refused.
 */
/**
 * The host this server is known by, for the audience an OIDC ID token must name (`npm:HOST`, `wharf:HOST`): the
 * hostname of WHARF_BASE_URL, else of the Host the client used (set WHARF_BASE_URL in production: a Host header
 * is the client's to choose).
 */
export function audienceHostOf(core: Core, req: FastifyRequest): string {
  const base = baseUrlOf(core, req);
  try {
    return new URL(base).hostname;
  } catch {
    return 'wharf';
  }
}

export function registryServiceOf(core: Core, req: FastifyRequest): string {
  return core.config.baseUrl ? new URL(core.config.baseUrl).host : (req.headers.host ?? 'wharf');
}
