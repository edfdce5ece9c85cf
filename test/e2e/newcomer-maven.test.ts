// The README's Maven quick start, run as a newcomer runs it (helpers-newcomer.ts): ~/.m2/settings.xml with the
// token from the environment, the sample pom.xml, mvn deploy with -DaltDeploymentRepository=wharf::URL, then
// mvn dependency:get from the owner's root and the resolved jar run with java.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { figures, runNewcomer } from './helpers-newcomer.ts';

test('newcomer: the README Maven quick start, from a fresh clone', { timeout: 600_000 }, async (t) => {
  const run = await runNewcomer('maven');
  try {
    t.diagnostic(figures(run));
    assert.match(run.output, /^hello from Wharf$/m, 'java runs the class of the resolved jar');
    const jar = path.join(run.home, '.m2/repository/com/example/hello/1.0.0/hello-1.0.0.jar');
    const served = await fetch(`${run.url}/maven/alice/hello/com/example/hello/1.0.0/hello-1.0.0.jar`);
    assert.equal(served.status, 200, 'deployed to alice/hello, public');
    assert.deepEqual(fs.readFileSync(jar), Buffer.from(await served.arrayBuffer()), 'the resolved jar is the deployed one');
    assert.match(fs.readFileSync(path.join(run.home, '.m2/settings.xml'), 'utf8'), /<id>wharf<\/id>/);
  } finally {
    await run.dispose();
  }
});
