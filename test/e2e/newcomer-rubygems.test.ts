// The README's RubyGems quick start, run as a newcomer runs it (helpers-newcomer.ts): the minimal gemspec built,
// pushed with the token as API key, installed with --clear-sources (Wharf only), required by ruby, then yanked
// with the token: afterwards the source no longer offers it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { figures, runNewcomer } from './helpers-newcomer.ts';

test('newcomer: the README RubyGems quick start, from a fresh clone', { timeout: 600_000 }, async (t) => {
  const after = 'if gem fetch hello -v 1.0.0 --clear-sources --source http://localhost:8080/rubygems/alice/; then echo "##yanked gem still fetched"; fi';
  const run = await runNewcomer('rubygems', { after });
  try {
    t.diagnostic(figures(run));
    assert.match(run.output, /^hello from Wharf$/m, 'ruby requires the installed gem');
    assert.match(run.output, /Successfully installed hello-1\.0\.0/);
    assert.ok(fs.existsSync(path.join(run.home, '.gem-home/gems/hello-1.0.0/lib/hello.rb')));
    assert.match(run.output, /Successfully deleted gem: hello \(1\.0\.0\)/, 'gem yank with the token');
    assert.doesNotMatch(run.output, /##yanked gem still fetched/);
  } finally {
    await run.dispose();
  }
});
