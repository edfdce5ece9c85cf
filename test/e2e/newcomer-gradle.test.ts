// The README's Gradle quick start, run as a newcomer runs it (helpers-newcomer.ts) with Debian's Gradle 4.4.1:
// the library's build.gradle (legacy maven plugin + the wagon transport jar) uploaded, then an application
// resolving it from the owner's root and running it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { figures, runNewcomer } from './helpers-newcomer.ts';

test('newcomer: the README Gradle quick start, from a fresh clone', { timeout: 600_000 }, async (t) => {
  const run = await runNewcomer('gradle');
  try {
    t.diagnostic(figures(run));
    assert.match(run.output, /^hello from Wharf$/m, 'gradle run prints what the resolved library returns');
    const meta = await (await fetch(`${run.url}/maven/alice/hello/com/example/greeting/maven-metadata.xml`)).text();
    assert.match(meta, /<release>1\.0\.0<\/release>/);
    const cache = path.join(run.home, '.gradle/caches/modules-2/files-2.1/com.example/greeting/1.0.0');
    const jars = fs.readdirSync(cache).flatMap((h) => fs.readdirSync(path.join(cache, h)).filter((f) => f === 'greeting-1.0.0.jar'));
    assert.deepEqual(jars, ['greeting-1.0.0.jar'], 'Gradle downloaded the jar into its cache');
  } finally {
    await run.dispose();
  }
});
