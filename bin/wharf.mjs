#!/usr/bin/env node
// The `wharf` admin command. It works on the configured database directly, whether or not the server runs, and
// from any folder: run it as `node /path/to/bin/wharf.mjs`, through bin/wharf on PATH (a symlink to this file:
// node resolves it to its real path) or after `npm link`. Where it finds the data: src/cli/data.ts.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// TypeScript compiled with Wharf's own tsconfig, not whatever one the current folder holds.
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
