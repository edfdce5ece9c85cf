// The README's RubyGems quick start, run as a newcomer runs it (helpers-newcomer.ts): the minimal gemspec built,
// pushed with the token as API key, installed with --clear-sources (Wharf only), required by ruby, then yanked
// with the token: afterwards the source no longer offers it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { figures, runNewcomer } from './helpers-newcomer.ts';

test('newcomer: the README RubyGems quick start, from a fresh clone', { timeout: 600_000 }, async (t) => {
  // gem fetch exits 0 even when it finds nothing: its message tells.
  const after = 'gem fetch hello -v 1.0.0 --clear-sources --source http://localhost:8080/rubygems/alice/';
  const run = await runNewcomer('rubygems', { after });
  try {
    t.diagnostic(figures(run));
    assert.match(run.output, /^hello from Wharf$/m, 'ruby requires the installed gem');
    assert.match(run.output, /Successfully installed hello-1\.0\.0/);
    assert.ok(fs.existsSync(path.join(run.home, '.gem-home/gems/hello-1.0.0/lib/hello.rb')));
    assert.match(run.output, /Successfully deleted gem: hello \(1\.0\.0\)/, 'gem yank with the token');
    assert.match(run.output.slice(run.output.indexOf('##newcomer block end')), /Could not find a valid gem 'hello' \(= 1\.0\.0\)/, 'the yanked gem is gone from the source');
    assert.doesNotMatch(run.output, /Downloaded hello-1\.0\.0/);
  } finally {
    await run.dispose();
  }
});
