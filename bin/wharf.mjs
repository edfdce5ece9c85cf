#!/usr/bin/env node
// The `wharf` admin command. It works on the configured database directly, whether or not the server runs.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
