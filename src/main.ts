// Entry point: load config, open the database and blob store, build the app, listen, and shut down cleanly.
import path from 'node:path';
import pino from 'pino';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { scheduledCollection } from './core/blobs/gc.ts';
import { openCore } from './core/core.ts';

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
  // collects at a time (a lease) and a node skips its turn when another collected within the interval.
  const gc = config.gcIntervalSeconds
    ? setInterval(() => {
        scheduledCollection(core, config.gcIntervalSeconds * 1000).then(
          (report) => report && logger.info({ gc: report }, 'garbage collected'),
          (err) => logger.error({ err }, 'garbage collection failed'),
        );
      }, config.gcIntervalSeconds * 1000)
    : null;
  gc?.unref();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    clearInterval(flusher);
    if (gc) clearInterval(gc);
    await app.close().catch((err) => logger.error({ err }, 'close failed'));
    await core.close();
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
