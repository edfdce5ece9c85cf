// Where the CLI finds Wharf's data. It must not depend on the folder it is run from: a person runs `wharf` from
// their project, from /tmp or through PATH, and must reach the same data the server uses. In this order:
//   1. `--data DIR` on the command line (before or after NOUN VERB): the data folder DIR, its SQLite database
//      DIR/wharf.db included (WHARF_DATABASE_URL from the environment is then ignored);
//   2. WHARF_DATABASE_URL and WHARF_DATA from the environment, read exactly as the server reads them
//      (src/config.ts: a relative WHARF_DATA is relative to the current folder, as it is for `npm start`);
//   3. else the folder `npm start` uses by default: `data` in the Wharf checkout itself. `npm start` always runs in
//      the package root, so its `./data` is ROOT/data, whatever folder the CLI is run from.
// Every command that opens the database says which one on stderr (stdout stays what was asked for), and a command
// that is not a create never creates an empty database where there was none (see main.ts).
import path from 'node:path';
import type { Config } from '../config.ts';
import { UsageError } from './args.ts';

/** The Wharf checkout (bin/.. and src/..), where `npm start` runs. */
export const PACKAGE_ROOT = path.resolve(import.meta.dirname, '../..');

/** The data folder of `npm start` with no WHARF_DATA: ./data in the package root. */
export const DEFAULT_DATA = path.join(PACKAGE_ROOT, 'data');

/** Takes the global `--data DIR` / `--data=DIR` out of the arguments, wherever it stands (not after `--`). */
export function takeDataOption(argv: string[]): { argv: string[]; data: string | undefined } {
  const rest: string[] = [];
  let data: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--data' || a.startsWith('--data=')) {
      const value = a === '--data' ? argv[++i] : a.slice('--data='.length);
      if (!value || (a === '--data' && value.startsWith('-'))) throw new UsageError('--data needs a folder: --data DIR');
      data = value;
      continue;
    }
    rest.push(a);
  }
  return { argv: rest, data };
}

/** The environment the CLI loads its configuration from (see the top of this file for the order). */
export function cliEnvironment(env: NodeJS.ProcessEnv, data: string | undefined): NodeJS.ProcessEnv {
  const out = { ...env };
  if (data !== undefined) {
    out.WHARF_DATA = data;
    delete out.WHARF_DATABASE_URL;
  } else if (!out.WHARF_DATA) {
    out.WHARF_DATA = DEFAULT_DATA;
  }
  if (out.WHARF_DATABASE_URL === '') delete out.WHARF_DATABASE_URL;
  return out;
}

/** The SQLite database file the configuration names (absolute), or null for PostgreSQL and `:memory:`. */
export function sqliteFile(config: Config): string | null {
  if (!config.databaseUrl.startsWith('sqlite:')) return null;
  const file = config.databaseUrl.slice('sqlite:'.length);
  return file === ':memory:' ? null : path.resolve(file);
}

/** A database URL fit to print: the password, if any, masked. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

/** "data in /srv/wharf/data (SQLite)", or the database and the files' folder when they are apart. */
export function describeData(config: Config): string {
  const file = sqliteFile(config);
  if (file === path.join(config.dataDir, 'wharf.db')) return `data in ${config.dataDir} (SQLite)`;
  if (file) return `database ${file} (SQLite), files in ${config.dataDir}`;
  if (config.databaseUrl.startsWith('sqlite:')) return `database ${config.databaseUrl} (SQLite), files in ${config.dataDir}`;
  return `database ${redactUrl(config.databaseUrl)} (PostgreSQL), files in ${config.dataDir}`;
}

/** The one line a command that is not a create prints when there is no database where it looked. */
export function noDatabase(config: Config, file: string): string {
  const where = file === path.join(config.dataDir, 'wharf.db') ? `no Wharf data in ${config.dataDir} (there is no wharf.db)` : `no Wharf database at ${file}`;
  return `${where}: point wharf at the server's data with --data DIR, WHARF_DATA=DIR or WHARF_DATABASE_URL=URL (nothing was created)`;
}
