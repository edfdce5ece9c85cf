// Maven's part of a promotion (core/promote.ts): every file of the version PUT where a Maven deploy puts it
// (`<group path>/<artifact>/<version>/<file>`, with its checksums as headers and as `.sha1` files), then each file
// downloaded again from the target and hashed. The name is inside the pom: it never changes. maven-metadata.xml is
// the target's to derive (Wharf, Nexus and Artifactory rebuild it; a bare file server gets none).
import { authorization, compare, refused, servedDigest, type Promoter } from '../../core/promote.ts';
import { splitPackageName } from './coordinates.ts';

export const mavenPromoter: Promoter = {
  renames: false,
  async push(p) {
    const { groupId, artifactId } = splitPackageName(p.pkg.name);
    const dir = new URL(`${groupId.replace(/\./g, '/')}/${artifactId}/${p.main.version.version}/`, p.url.toString().replace(/\/?$/, '/'));
    const auth = authorization(p.credentials);
    const headers: Record<string, string> = auth ? { authorization: auth } : {};
    for (const f of p.main.files) {
      const sums: Record<string, string> = { 'x-checksum-sha256': f.digest.slice(7), ...(f.sha1 ? { 'x-checksum-sha1': f.sha1 } : {}) };
      const put = await p.fetch(new URL(f.name, dir), { method: 'PUT', body: (await p.open(f.digest)) as unknown as BodyInit, duplex: 'half', headers: { ...headers, ...sums, 'content-length': String(f.size) } } as RequestInit);
      if (!put.ok) await refused(put, `the upload of ${f.name}`);
      await put.body?.cancel();
      if (f.sha1) {
        const sum = await p.fetch(new URL(`${f.name}.sha1`, dir), { method: 'PUT', body: f.sha1, headers });
        if (!sum.ok) await refused(sum, `the upload of ${f.name}.sha1`);
        await sum.body?.cancel();
      }
    }
    const checks = [];
    for (const f of p.main.files) checks.push(compare(f.name, f.digest, await servedDigest(p.fetch, new URL(f.name, dir), headers, f.name)));
    return checks;
  },
};
