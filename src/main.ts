// Entry point: load config, open the database and blob store, build the app, listen, and shut down cleanly.
import path from 'node:path';
import pino from 'pino';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { scheduledCollection } from './core/blobs/gc.ts';
import { openCore } from './core/core.ts';
import { drain } from './http/ops.ts';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    console.error(`wharf: ${(e as Error).message}`);
    process.exit(2);
  }
  const logger = pino({ level: config.logLevel, base: { service: 'wharf' } });
  const core = await openCore(config, logger);
  const app = await buildApp(core, logger);
  core.webhooks.start();
  const flusher = setInterval(() => core.flush().catch((err) => logger.error({ err }, 'flush failed')), config.downloadFlushMs);
  flusher.unref();
  // Scheduled garbage collection (also `wharf gc`); abandoned uploads expire with it. With several nodes, one
  // collects at a time (a lease) and a node skips its turn when another collected within the interval. A stopping
  // server waits for a collection under way (`collecting`).
  let collecting: Promise<unknown> | null = null;
  const gc = config.gcIntervalSeconds
    ? setInterval(() => {
        if (collecting) return;
        collecting = scheduledCollection(core, config.gcIntervalSeconds * 1000)
          .then((report) => report && logger.info({ gc: report }, 'garbage collected'), (err) => logger.error({ err }, 'garbage collection failed'))
          .finally(() => (collecting = null));
      }, config.gcIntervalSeconds * 1000)
    : null;
  gc?.unref();
  // Scheduled retention (also `wharf retention run`): one node at a time (a lease), as garbage collection.
  let retaining: Promise<unknown> | null = null;
  const retention = config.retentionIntervalSeconds
    ? setInterval(() => {
        if (retaining) return;
        retaining = core.retention.scheduled(config.retentionIntervalSeconds * 1000)
          .then((r) => r && logger.info({ retention: { packages: r.packages, deleted: r.deleted.length, skipped: r.skipped } }, 'retention applied'), (err) => logger.error({ err }, 'retention failed'))
          .finally(() => (retaining = null));
      }, config.retentionIntervalSeconds * 1000)
    : null;
  retention?.unref();

  // Graceful shutdown (docs/operations.md): /readyz turns 503 and new connections are refused at once; requests
  // in flight (uploads, publishes) finish, for up to WHARF_SHUTDOWN_TIMEOUT; then the background work stops, the
  // buffered counters are written and the database and blob store are closed. A second signal cuts it short.
  let stopping = false;
  let hurry: () => void = () => {};
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: not waiting for requests in flight');
      hurry();
      return;
    }
    stopping = true;
    const t0 = Date.now();
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining requests in flight');
    clearInterval(flusher);
    if (gc) clearInterval(gc);
    if (retention) clearInterval(retention);
    const hurried = new Promise<void>((r) => (hurry = r));
    const { cut } = await drain(app, config.shutdownTimeoutMs, hurried);
    if (cut) logger.warn({ cut }, 'requests still in flight at the shutdown timeout were cut off');
    // A garbage collection under way finishes its step (it is safe to stop anywhere, but a clean end logs its report).
    await Promise.race([Promise.all([collecting, retaining]), hurried, new Promise((r) => setTimeout(r, Math.max(0, config.shutdownTimeoutMs - (Date.now() - t0))).unref())]);
    await app.close().catch((err) => logger.error({ err }, 'close failed'));
    await core.close();
    logger.info({ ms: Date.now() - t0 }, 'stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      // One line a person can act on, not a stack.
      console.error(`wharf: port ${config.port} is already in use: stop what holds it, or start Wharf on another port with WHARF_PORT=8081 npm start`);
      await core.close();
      process.exit(1);
    }
    throw e;
  }
  const database = config.databaseUrl.replace(/\/\/[^@]*@/, '//***@');
  logger.info({ address, data: config.dataDir, database }, 'wharf listening');
  // A person at a terminal gets one plain line (and, before anyone exists, how to begin); JSON logs are for machines.
  if (process.stdout.isTTY) {
    const url = config.baseUrl ?? `http://localhost:${(app.server.address() as { port: number }).port}`;
    const rel = path.relative(process.cwd(), config.dataDir);
    const dir = !rel ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? config.dataDir : `./${rel}`;
    const where = config.databaseUrl.startsWith('sqlite:') ? `data in ${dir} (SQLite)` : `data in ${database} (PostgreSQL), files in ${dir}`;
    process.stdout.write(`Wharf ready on ${url} — ${where}\n`);
    const anyone = await core.db.selectFrom('owners').select('id').where('kind', '=', 'user').limit(1).executeTakeFirst();
    if (!anyone) {
      process.stdout.write(
        `No users yet. Create the first administrator (it asks for a password) and sign in at ${url}/-/login:\n` +
          `  node ${path.relative(process.cwd(), path.join(import.meta.dirname, '../bin/wharf.mjs')) || 'bin/wharf.mjs'} user create admin --admin --password-stdin\n`,
      );
    }
  }
}

main().catch((err) => {
  console.error('wharf: failed to start:', err);
  process.exit(1);
});
