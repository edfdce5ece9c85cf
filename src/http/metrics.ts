// GET /metrics: Prometheus text format (prom-client). What each metric means: docs/operations.md, "Metrics".
//
// Labels are bounded and never name a package: a request is labelled by its format, its route *pattern*
// (`/npm/:scope/:name`, never the URL), its method and its status; requests no route matched share one label.
// Access: the addresses in WHARF_METRICS_ALLOW (loopback by default) read it without credentials, unless the
// request came through a proxy (it carries X-Forwarded-For, Forwarded or X-Real-IP: behind nginx on the same host
// every client would otherwise look like loopback); anyone else needs a site administrator's credentials
// (a token with the site_admin scope), which the core decides (`authz.manage(actor, { what: 'site' })`).
import net from 'node:net';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../core/core.ts';
import { isWharfError } from '../core/errors.ts';
import { allCacheStats, observeBlobOps, type BlobOutcome } from '../core/stats.ts';
import { formats } from '../formats/index.ts';
import { inflightRequests, isDraining } from './ops.ts';

const OPS_ROUTES = ['/healthz', '/readyz', '/metrics'];
/** Seconds: from a cached packument (well under 5 ms) to a multi-GiB layer upload. */
const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The format a URL belongs to: a format's package type, api, ops or web. */
function formatOf(url: string): string {
  const at = (p: string) => url === p || url.startsWith(`${p}/`) || url.startsWith(`${p}?`);
  for (const f of formats) if (at(f.prefix)) return f.type;
  if (at('/api')) return 'api';
  if (OPS_ROUTES.some(at)) return 'ops';
  return 'web';
}

/** Registers GET /metrics (when WHARF_METRICS=on) and the hooks that measure every request. */
export function installMetrics(app: FastifyInstance, core: Core): void {
  if (!core.config.metrics.enabled) return;
  // prom-client (~12 MiB and ~0.1 s to load) is loaded on the first scrape, or once this many observations wait for
  // it: until then each observation is kept as a small closure and replayed into the metrics when they exist. An
  // idle server, or one nobody scrapes, does without it. Node's own default metrics (GC, event loop lag) count
  // from that moment; process CPU and memory are read at each scrape.
  const PENDING_MAX = 5000;
  type Metrics = Awaited<ReturnType<typeof build>>;
  let metrics: Metrics | null = null;
  let pending: ((m: Metrics) => void)[] = [];
  let loading: Promise<Metrics> | null = null;
  const load = (): Promise<Metrics> =>
    (loading ??= build().then(
      (m) => {
        metrics = m;
        for (const r of pending) r(m);
        pending = [];
        return m;
      },
      (err) => {
        loading = null;
        throw err;
      },
    ));
  const record = (r: (m: Metrics) => void) => {
    if (metrics) return r(metrics);
    pending.push(r);
    if (pending.length >= PENDING_MAX) load().catch((err) => app.log.error({ err }, 'loading prom-client failed'));
  };

  async function build() {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = await import('prom-client');
    const register = new Registry();
    collectDefaultMetrics({ register });

    const duration = new Histogram({
      name: 'wharf_http_request_duration_seconds',
      help: 'HTTP requests answered, by format, route pattern, method and status, and how long they took to answer.',
      labelNames: ['format', 'route', 'method', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [register],
    });
    const aborted = new Counter({ name: 'wharf_http_requests_aborted_total', help: 'HTTP requests whose client went away before the answer, by format, route pattern and method.', labelNames: ['format', 'route', 'method'] as const, registers: [register] });
    const bytesIn = new Counter({ name: 'wharf_http_received_bytes_total', help: 'Bytes received on HTTP connections (request lines, headers and bodies), by format.', labelNames: ['format'] as const, registers: [register] });
    const bytesOut = new Counter({ name: 'wharf_http_sent_bytes_total', help: 'Bytes sent on HTTP connections (status lines, headers and bodies), by format.', labelNames: ['format'] as const, registers: [register] });
    new Gauge({ name: 'wharf_http_requests_in_flight', help: 'HTTP requests received and not yet answered.', registers: [register], collect() { this.set(inflightRequests(app)); } });
    new Gauge({ name: 'wharf_draining', help: '1 while the node is shutting down (GET /readyz answers 503), else 0.', registers: [register], collect() { this.set(isDraining(app) ? 1 : 0); } });

    const blobOps = new Counter({ name: 'wharf_blob_store_operations_total', help: 'Blob store operations by operation and outcome (ok, not_found, rejected: content refused, error: the store failed).', labelNames: ['op', 'outcome'] as const, registers: [register] });
    const blobSeconds = new Histogram({ name: 'wharf_blob_store_operation_duration_seconds', help: 'How long blob store operations took (open: until the content starts to flow).', labelNames: ['op'] as const, buckets: LATENCY_BUCKETS, registers: [register] });

    new Counter({
      name: 'wharf_cache_lookups_total',
      help: 'Lookups in the read caches by cache and result (hit, miss); the hit ratio is hit / (hit + miss).',
      labelNames: ['cache', 'result'] as const,
      registers: [register],
      collect() {
        this.reset();
        for (const [cache, s] of allCacheStats()) {
          this.inc({ cache, result: 'hit' }, s.hits);
          this.inc({ cache, result: 'miss' }, s.misses);
        }
      },
    });
    new Gauge({ name: 'wharf_blob_cache_bytes', help: 'Bytes of content held in memory by the blob cache.', registers: [register], collect() { this.set(core.blobCache.heldBytes); } });

    // Queue depths, read from the database when scraped (a few indexed counts): what waits to be done.
    const queue = new Gauge({
      name: 'wharf_queue_depth',
      help: 'Work waiting, by queue: webhook_deliveries (pending deliveries, retries included), uploads (open resumable uploads).',
      labelNames: ['queue'] as const,
      registers: [register],
      async collect() {
        const [deliveries, uploads] = await Promise.all([
          core.db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirst(),
          core.db.selectFrom('upload_sessions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
        ]);
        queue.set({ queue: 'webhook_deliveries' }, Number(deliveries?.n ?? 0));
        queue.set({ queue: 'uploads' }, Number(uploads?.n ?? 0));
      },
    });
    return { register, duration, aborted, bytesIn, bytesOut, blobOps, blobSeconds };
  }

  const observer = (op: string, outcome: BlobOutcome, seconds: number) =>
    record((m) => {
      m.blobOps.inc({ op, outcome });
      m.blobSeconds.observe({ op }, seconds);
    });
  observeBlobOps(observer, true);
  app.addHook('onClose', async () => observeBlobOps(observer, false));

  // Bytes on the wire: a socket's counters, taken at the end of each request (keep-alive sockets carry many).
  const seen = new WeakMap<Socket, { read: number; written: number }>();
  const formatByRoute = new Map<string, string>();
  const measure = (req: FastifyRequest, reply: FastifyReply | null) => {
    const route = req.routeOptions.url;
    let format = route === undefined ? formatOf(req.url) : formatByRoute.get(route);
    if (format === undefined) formatByRoute.set(route!, (format = formatOf(route!)));
    const labels = { format, route: route ?? 'unmatched', method: req.method };
    if (reply) {
      const status = String(reply.statusCode);
      const seconds = reply.elapsedTime / 1000;
      record((m) => m.duration.observe({ ...labels, status }, seconds));
    } else record((m) => m.aborted.inc(labels));
    const socket = req.raw.socket;
    if (!socket) return;
    const last = seen.get(socket) ?? { read: 0, written: 0 };
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    if (read > last.read) record((m) => m.bytesIn.inc({ format: format! }, read - last.read));
    if (written > last.written) record((m) => m.bytesOut.inc({ format: format! }, written - last.written));
    seen.set(socket, { read, written });
  };
  app.addHook('onResponse', (req, reply, done) => {
    measure(req, reply);
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    measure(req, null);
    done();
  });

  const allowed = new net.BlockList();
  for (const a of core.config.metrics.allow) {
    const [ip, bits] = a.split('/');
    const family = net.isIPv4(ip) ? 'ipv4' : 'ipv6';
    allowed.addSubnet(ip, bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits), family);
  }
  const fromAllowedAddress = (req: FastifyRequest) => {
    const h = req.headers;
    if (h['x-forwarded-for'] !== undefined || h.forwarded !== undefined || h['x-real-ip'] !== undefined) return false;
    const ip = req.raw.socket?.remoteAddress;
    return !!ip && allowed.check(ip, net.isIPv4(ip) ? 'ipv4' : 'ipv6');
  };

  app.get('/metrics', async (req, reply) => {
    if (!fromAllowedAddress(req)) {
      try {
        await core.authz.manage(req.actor, { what: 'site' });
      } catch (e) {
        if (!isWharfError(e)) throw e;
        const status = e.kind === 'Unauthorized' ? 401 : 403;
        if (status === 401) reply.header('www-authenticate', 'Bearer realm="wharf metrics"');
        return reply.code(status).send({ error: status === 401 ? 'metrics need a site administrator\'s token, or a request from an address in WHARF_METRICS_ALLOW' : 'metrics are for site administrators' });
      }
    }
    const { register } = await load();
    const body = await register.metrics();
    return reply.header('content-type', register.contentType).header('cache-control', 'no-store').send(body);
  });
}
