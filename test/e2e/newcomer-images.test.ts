// The README's image quick start, run as a newcomer runs it (helpers-newcomer.ts): an image built with umoci in an
// OCI layout, labelled with its source, pushed and inspected with skopeo, pulled by podman without credentials;
// the pulled image is the one built (same manifest digest).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { figures, runNewcomer } from './helpers-newcomer.ts';

test('newcomer: the README image quick start, from a fresh clone', { timeout: 600_000 }, async (t) => {
  const run = await runNewcomer('images', { after: `echo "##pulled $(podman image inspect --format '{{.Digest}}' localhost:8080/alice/app:1)"` });
  try {
    t.diagnostic(figures(run));
    const layout = JSON.parse(fs.readFileSync(path.join(run.cwd, 'img/index.json'), 'utf8'));
    const built = layout.manifests.find((m: any) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app').digest as string;
    assert.match(built, /^sha256:[0-9a-f]{64}$/);
    assert.equal(/^##pulled (.*)$/m.exec(run.output)?.[1], built, 'podman pulled the image that was built and pushed');
    assert.match(run.output, /"org\.opencontainers\.image\.source": "https:\/\/github\.com\/alice\/hello"/, 'skopeo inspect shows the label');
    const anon = await fetch(`${run.url}/v2/alice/app/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(anon.status, 200, 'linked to the public alice/hello: pulls need no credentials');
    assert.equal(anon.headers.get('docker-content-digest'), built);
  } finally {
    await run.dispose();
  }
});
