// Maven over raw HTTP for the deploy tests: checksums, Basic credentials, a minimal POM, and PUT / GET of a path.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

export const hex = (algo: string, b: Buffer | string) => createHash(algo).update(b).digest('hex');
export const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
export const pom = (g: string, a: string, v: string) =>
  `<project><modelVersion>4.0.0</modelVersion><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></project>`;

/** PUT `body` at a path of the server `url()`, and GET a path's bytes (200 asserted) with `readAuth()`. */
export function mavenHttp(url: () => string, readAuth: () => string) {
  return {
    put: (p: string, body: string | Buffer, auth: string) => fetch(`${url()}${p}`, { method: 'PUT', headers: { authorization: auth }, body: new Uint8Array(Buffer.from(body)) }),
    bytes: async (p: string) => {
      const r = await fetch(`${url()}${p}`, { headers: { authorization: readAuth() } });
      assert.equal(r.status, 200, `GET ${p} → ${r.status}`);
      return Buffer.from(await r.arrayBuffer());
    },
  };
}
