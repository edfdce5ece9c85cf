// The README's NuGet quick start, run as a newcomer runs it (helpers-newcomer.ts): Hello.nuspec packed, pushed and
// installed with NuGet.exe 5.8 on mono (v3), then installed by Debian's nuget 2.8.7 (v2) from the challenging
// auth feed with the credentials `nuget sources add` stored.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { figures, runNewcomer } from './helpers-newcomer.ts';

test('newcomer: the README NuGet quick start, from a fresh clone', { timeout: 600_000 }, async (t) => {
  const run = await runNewcomer('nuget');
  try {
    t.diagnostic(figures(run));
    assert.match(run.output, /^hello from Wharf$/m);
    assert.equal(fs.readFileSync(path.join(run.cwd, 'packages/Hello.1.0.0/content/hello.txt'), 'utf8'), 'hello from Wharf\n');
    assert.ok(fs.existsSync(path.join(run.cwd, 'packages/Hello.1.0.0/Hello.1.0.0.nupkg')));
    assert.match(run.output, /Using credentials from config\. UserName: alice/, 'nuget 2.8.7 answered the 401 with the stored credentials');
    assert.equal(fs.readFileSync(path.join(run.cwd, 'packages-v2/Hello.1.0.0/content/hello.txt'), 'utf8'), 'hello from Wharf\n');
  } finally {
    await run.dispose();
  }
});
