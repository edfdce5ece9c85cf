// The CLI suite (test/e2e/cli-suite.ts) on PostgreSQL, in a file of its own so it runs beside the SQLite one.
import { dialects } from '../helpers/databases.ts';
import { cliSuite } from './cli-suite.ts';

if (dialects().includes('postgres')) cliSuite('postgres');
