// The OCI Distribution API (v1.1) under /v2, with Docker token authentication at /v2/token. A repository
// (OWNER/NAME) is a package of type `container`; each manifest digest is a version; tags point at versions.
// The routes live with their resource, as distribution's registry/handlers: handlers/blobs.ts, uploads.ts,
// manifests.ts, tags.ts, referrers.ts, and token.ts. Each route declares the access it needs (pull, push,
// delete); the dispatcher here checks it (access.ts) before the handler runs.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { unauthorized } from '../../core/errors.ts';
import { baseUrlOf, registryServiceOf } from '../../http/actor.ts';
import { refuseDeclaredLength } from '../../http/body.ts';
import { accessHelpers, type Access } from './access.ts';
import { ociError, ociErrorHandler } from './errors.ts';
import { blobResources } from './handlers/blobs.ts';
import { manifestResources } from './handlers/manifests.ts';
import { referrerResources } from './handlers/referrers.ts';
import type { Method, OciContext, OciResource, OciRoute } from './handlers/route.ts';
import { tagResources } from './handlers/tags.ts';
import { uploadResources } from './handlers/uploads.ts';
import { parseOciName } from './names.ts';
import { OciProxy } from './proxy.ts';
import { tokenEndpoint } from './token.ts';

/** Every /v2/<name>/… resource, in matching order (upload paths before `blobs/<digest>`). */
export function ociResources(ctx: OciContext): OciResource[] {
  return [...uploadResources(ctx), ...blobResources(ctx), ...manifestResources(ctx), ...tagResources(ctx), ...referrerResources(ctx)];
}

/**
 * The route for a path under /v2/ and a method: names contain slashes, so the path is matched from its end, and
 * the first resource whose path matches answers (a method it lacks is UNSUPPORTED). Undefined: no resource.
 */
export function matchRoute(resources: OciResource[], method: string, path: string): { route: OciRoute; name: string; params: string[] } | undefined {
  for (const r of resources) {
    const m = r.path.exec(path);
    if (!m) continue;
    const route = r.methods[method as Method];
    if (!route) throw ociError('METHOD_UNSUPPORTED', `${method} is not supported here`);
    return { route, name: m[1], params: m.slice(2) };
  }
  return undefined;
}

/** Registers the /v2 API. */
export async function ociRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const base = (req: FastifyRequest) => baseUrlOf(core, req);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  // The challenge names this registry's service: the audience every registry token must carry.
  app.setErrorHandler(ociErrorHandler(base, (req) => registryServiceOf(core, req)));
  // A declared body over the limit is refused from its headers alone (manifests have their own, smaller limit).
  app.addHook('onRequest', refuseDeclaredLength((req) => (/\/manifests\/[^/?]*(\?|$)/.test(req.url) ? core.config.maxManifestSize : core.config.maxBlobSize)));
  app.addHook('onSend', async (_req, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
  });

  await tokenEndpoint(app, core);

  // GET /v2/: the API version check; anonymous clients are told where to get a token.
  app.get('/', async (req) => {
    if (req.actor.kind === 'anonymous') throw unauthorized('authentication required');
    return {};
  });

  const access: Access = accessHelpers(core);
  const resources = ociResources({ core, access });
  const proxy = new OciProxy(core);
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'],
    url: '/*',
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const path = (req.params as { '*': string })['*'];
      // A container proxy's repositories (/v2/PROXY/...) are answered by its upstream (proxy.ts).
      if (await proxy.serve(req, reply, path)) return reply;
      const found = matchRoute(resources, req.method, path);
      if (!found) throw ociError('NAME_UNKNOWN');
      const n = parseOciName(found.name);
      const { access: kind, creates } = found.route;
      const pkg = kind === 'push' ? await access.push(req, n, !!creates) : await access[kind](req, n);
      return found.route.handler(req, reply, { n, pkg, params: found.params });
    },
  });
}
