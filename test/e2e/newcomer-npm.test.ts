// The README's npm quick start, run as a newcomer runs it (helpers-newcomer.ts): a fresh clone, `npm start`, the
// CLI from the checkout's bin, ~/.npmrc, npm publish of a package linked to alice/hello, npm install in another
// folder, and the installed module's own output.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { figures, runNewcomer } from './helpers-newcomer.ts';

test('newcomer: the README npm quick start, from a fresh clone', { timeout: 600_000 }, async (t) => {
  const run = await runNewcomer('npm');
  try {
    t.diagnostic(figures(run));
    assert.match(run.output, /^hello from Wharf$/m, 'node -e require("@alice/hello") prints the published module');
    const installed = JSON.parse(fs.readFileSync(path.join(run.cwd, 'node_modules/@alice/hello/package.json'), 'utf8'));
    assert.equal(installed.name, '@alice/hello');
    assert.equal(installed.version, '1.0.0');
    assert.deepEqual(installed.repository, { type: 'git', url: 'git+https://github.com/alice/hello.git' });
    assert.doesNotMatch(run.output, /npm warn publish/i, 'npm publish has nothing to correct in package.json');
    assert.match(fs.readFileSync(path.join(run.home, '.npmrc'), 'utf8'), new RegExp(`^//localhost:${run.port}/npm/:_authToken=whp_`, 'm'));
    // Linked to the public repository alice/hello: anyone can read it.
    const anon = await fetch(`${run.url}/npm/@alice%2fhello`);
    assert.equal(anon.status, 200);
    assert.equal((await anon.json())['dist-tags'].latest, '1.0.0');
  } finally {
    await run.dispose();
  }
});
