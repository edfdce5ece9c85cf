// What a load balancer and an orchestrator ask a node: is it alive (GET /healthz), may it take traffic (GET
// /readyz: the database and the blob store answer, and it is not shutting down), and how it stops (drain:
// refuse new connections, let the requests in flight finish, up to a timeout). docs/operations.md says how to use them.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Core } from '../core/core.ts';

/** How long one readiness probe may take before it counts as failed. */
const PROBE_TIMEOUT_MS = 2000;

interface Lifecycle {
  draining: boolean;
  /** Requests received and not yet answered (or aborted), counted on the server's sockets. */
  inflight: number;
  /** Called whenever `inflight` drops to zero. */
  onIdle: Set<() => void>;
}

const lifecycles = new WeakMap<FastifyInstance, Lifecycle>();

/** Registers GET /readyz and the bookkeeping `drain` needs. */
export function installLifecycle(app: FastifyInstance, core: Core): void {
  const state: Lifecycle = { draining: false, inflight: 0, onIdle: new Set() };
  lifecycles.set(app, state);
  // Counted on the raw server, so that an upload whose handler is still reading its body counts, and a request
  // that never reaches a route too. A response emits 'close' once, when it is done or its connection is gone.
  app.server.on('request', (_req, res) => {
    state.inflight++;
    res.once('close', () => {
      if (--state.inflight === 0) for (const f of state.onIdle) f();
    });
  });
  // While draining, every response closes its connection: a client does not reuse it, it opens a new one, which
  // the balancer sends to another node.
  app.addHook('onRequest', (_req, reply, done) => {
    if (state.draining) reply.header('connection', 'close');
    done();
  });

  app.get('/readyz', async (req, reply) => {
    if (state.draining) return reply.code(503).send({ status: 'draining', checks: {} });
    const [database, blobStore] = await Promise.all([
      probe(() => sql`select 1`.execute(core.db)),
      probe(() => core.blobs.check?.(PROBE_TIMEOUT_MS) ?? Promise.resolve()),
    ]);
    const checks = { database, blob_store: blobStore };
    const failed = Object.entries(checks).filter(([, v]) => v !== 'ok').map(([k]) => k);
    if (!failed.length) return { status: 'ready', checks };
    req.log.warn({ checks }, 'not ready');
    return reply.code(503).send({ status: 'unavailable', failed, checks });
  });
}

/**
 * 'ok', or what went wrong in a few words: an error's code or name (ECONNREFUSED, NoSuchBucket, AccessDenied),
 * never its message, which may name internal hosts (/readyz answers anyone).
 */
async function probe(check: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: `timed out after ${PROBE_TIMEOUT_MS} ms` })), PROBE_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (e) {
    const err = e as { code?: unknown; name?: unknown };
    const what = typeof err.code === 'string' && err.code ? err.code : typeof err.name === 'string' && err.name !== 'Error' ? err.name : 'failed';
    return `error: ${what}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Requests received and not yet answered. */
export function inflightRequests(app: FastifyInstance): number {
  return lifecycles.get(app)?.inflight ?? 0;
}

/** Whether the app is draining (GET /readyz answers 503). */
export function isDraining(app: FastifyInstance): boolean {
  return lifecycles.get(app)?.draining ?? false;
}

/**
 * Starts refusing: /readyz answers 503 at once, the listening socket closes (a new connection is refused), idle
 * keep-alive connections close, and every response from now on closes its connection. Resolves when no request
 * is in flight, or after `timeoutMs` (or when `stopWaiting` settles), when the connections still open are cut;
 * `cut` says how many requests were.
 */
export async function drain(app: FastifyInstance, timeoutMs: number, stopWaiting?: Promise<void>): Promise<{ cut: number }> {
  const state = lifecycles.get(app);
  if (!state) throw new Error('drain: installLifecycle was not called on this app');
  state.draining = true;
  app.server.close(() => {}); // stops listening now; its callback would wait for every connection to end
  app.server.closeIdleConnections();
  if (state.inflight > 0) {
    let timer: NodeJS.Timeout | undefined;
    let done!: () => void;
    await new Promise<void>((resolve) => {
      done = resolve;
      state.onIdle.add(done);
      timer = setTimeout(done, timeoutMs);
      stopWaiting?.then(done);
    });
    clearTimeout(timer);
    state.onIdle.delete(done);
  }
  const cut = state.inflight;
  if (cut > 0) app.server.closeAllConnections();
  else app.server.closeIdleConnections();
  return { cut };
}
