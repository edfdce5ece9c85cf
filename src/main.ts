// Entry point: load config, open the database and blob store, build the app, listen, and shut down cleanly.
import pino from 'pino';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { collectGarbage } from './core/blobs/gc.ts';
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
  // Scheduled garbage collection (also `wharf gc`); abandoned uploads expire with it.
  const gc = config.gcIntervalSeconds
    ? setInterval(() => {
        collectGarbage(core).then((report) => logger.info({ gc: report }, 'garbage collected'), (err) => logger.error({ err }, 'garbage collection failed'));
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

  const address = await app.listen({ port: config.port, host: config.host });
  logger.info({ address, data: config.dataDir, database: config.databaseUrl.replace(/\/\/[^@]*@/, '//***@') }, 'wharf listening');
}

main().catch((err) => {
  console.error('wharf: failed to start:', err);
  process.exit(1);
});
