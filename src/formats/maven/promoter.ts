// Maven's part of a promotion (core/promote.ts): every file of the version PUT where a Maven deploy puts it
// (`<group path>/<artifact>/<version>/<file>`, with its checksums as headers and as `.sha1` files), then each file
// downloaded again from the target and hashed. The name is inside the pom: it never changes. Then, as `mvn deploy`
// does, the artifact's maven-metadata.xml: the target's own (if any) with this version added, PUT with its checksums,
// so that a bare file server resolves version ranges and LATEST too (Wharf derives its own and drops what it is sent).
import { createHash } from 'node:crypto';
import { nowIso } from '../../core/clock.ts';
import { authorization, compare, refused, servedDigest, targetBytes, type Check, type Promoter } from '../../core/promote.ts';
import { splitPackageName } from './coordinates.ts';
import { artifactMetadata, lastUpdatedOf } from './maven-metadata.ts';
import { MAX_METADATA, parseXml } from './pom.ts';

/** The versions a maven-metadata.xml lists (none for a document that is not one). */
function versionsIn(buf: Buffer): string[] {
  const doc = parseXml(buf, 'the target\'s maven-metadata.xml') as { metadata?: { versioning?: { versions?: { version?: unknown } } } };
  const v = doc.metadata?.versioning?.versions?.version;
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
}

/** The target's maven-metadata.xml at `url` (null when it has none), bounded in size. */
async function targetMetadata(get: typeof fetch, url: URL, headers: Record<string, string>): Promise<Buffer | null> {
  const res = await get(url, { headers });
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) return refused(res, 'the download of maven-metadata.xml');
  return targetBytes(res, MAX_METADATA, 'maven-metadata.xml');
}

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
    const checks: Check[] = [];
    for (const f of p.main.files) checks.push(compare(f.name, f.digest, await servedDigest(p.fetch, new URL(f.name, dir), headers, f.name)));

    const version = p.main.version.version;
    const metadataUrl = new URL('../maven-metadata.xml', dir);
    const before = await targetMetadata(p.fetch, metadataUrl, headers);
    const versions = before ? versionsIn(before) : [];
    if (!versions.includes(version)) {
      const xml = Buffer.from(artifactMetadata({ groupId, artifactId, versions: [...versions, version], lastUpdated: lastUpdatedOf(nowIso()) }));
      for (const [suffix, body] of [
        ['', xml],
        ['.sha1', createHash('sha1').update(xml).digest('hex')],
        ['.md5', createHash('md5').update(xml).digest('hex')],
      ] as const) {
        const put = await p.fetch(new URL(`maven-metadata.xml${suffix}`, metadataUrl), { method: 'PUT', body, headers });
        if (!put.ok) await refused(put, `the upload of maven-metadata.xml${suffix}`);
        await put.body?.cancel();
      }
    }
    const after = await targetMetadata(p.fetch, metadataUrl, headers);
    checks.push(compare('maven-metadata.xml (lists the version)', version, after && versionsIn(after).includes(version) ? version : undefined));
    return checks;
  },
};
