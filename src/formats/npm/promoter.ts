// npm's part of a promotion (core/promote.ts). To another owner: the scope is the owner, so the copy's `name`,
// `_id` and tarball file name change (the tarball's own bytes do not). To another registry: the publish document
// npm itself sends (the version's manifest plus the tarball as a base64 attachment), then the target's packument
// must carry our `dist.integrity`, and the tarball it serves must hash to it. A provenance bundle goes with it, as
// npm sends one; a target that serves npm's attestations endpoint must then serve that very bundle.
import { createHash } from 'node:crypto';
import { authorization, bodyHash, compare, refused, targetJson, type Promoter, type PromotedVersion, type RemotePush } from '../../core/promote.ts';
import { upstreamError } from '../../core/errors.ts';
import { parseNpmName, tarballName } from './names.ts';

type Manifest = Record<string, unknown> & { dist?: Record<string, unknown> };

/** A registry URL's base with one trailing slash, and the path of a scoped name as npm writes it (`@a%2fb`). */
/** The most of a target's packument or attestations read (the public registry's largest documents are tens of MiB). */
const MAX_TARGET_DOCUMENT = 64 * 1024 * 1024;
const base = (u: URL) => u.toString().replace(/\/?$/, '/');
const docPath = (full: string) => full.replace('/', '%2f');

function primary(v: PromotedVersion) {
  const f = v.files.find((x) => x.primary) ?? v.files.find((x) => x.name.endsWith('.tgz'));
  if (!f) throw new Error(`npm version ${v.version.version} has no tarball`);
  return f;
}

export const npmPromoter: Promoter = {
  renames: true,
  checkName(owner, name) {
    parseNpmName(`@${owner.toLowerCase()}/${name}`);
  },

  rename(v, to) {
    const n = parseNpmName(`@${to.owner.toLowerCase()}/${to.name}`);
    const meta = JSON.parse(v.version.metadata) as Manifest;
    const old = primary(v);
    return {
      metadata: { ...meta, name: n.full, _id: `${n.full}@${v.version.version}` },
      files: new Map([[old.name, tarballName(n, v.version.version)]]),
    };
  },

  async push(p: RemotePush) {
    const v = p.main;
    const meta = JSON.parse(v.version.metadata) as Manifest;
    const full = `@${p.pkg.owner_name.toLowerCase()}/${p.pkg.name}`;
    const version = v.version.version;
    const tgz = primary(v);
    const bytes = await p.read(tgz.digest);
    const integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
    if (meta.dist?.integrity !== undefined && meta.dist.integrity !== integrity) throw new Error(`stored tarball of ${full}@${version} does not match its integrity`);
    const root = base(p.url);
    const auth = authorization(p.credentials);
    const headers: Record<string, string> = { accept: 'application/json', ...(auth ? { authorization: auth } : {}) };
    // Wharf's own fields are not the target's to keep: who published here, and where the tarball is here.
    const { _npmUser: _u, _id: _i, ...manifest } = meta;
    const filename = `${full}-${version}.tgz`;
    const tag = v.tags.includes('latest') || !v.tags.length ? 'latest' : v.tags[0];
    // The provenance bundle travels as `npm publish --provenance` sends it: JSON text beside the tarball.
    const sigstore = v.files.find((f) => f.name.endsWith('.sigstore'));
    const bundle = sigstore ? (await p.read(sigstore.digest)).toString('utf8') : undefined;
    const doc = {
      _id: full, name: full, 'dist-tags': { [tag]: version },
      versions: { [version]: { ...manifest, name: full, version, _id: `${full}@${version}`, dist: { integrity, shasum: tgz.sha1 ?? createHash('sha1').update(bytes).digest('hex'), tarball: `${root}${full}/-/${filename}` } } },
      _attachments: {
        [filename]: { content_type: 'application/octet-stream', data: bytes.toString('base64'), length: bytes.length },
        ...(bundle !== undefined ? { [`${full}-${version}.sigstore`]: { content_type: sigstore!.contentType, data: bundle, length: bundle.length } } : {}),
      },
    };
    const put = await p.fetch(`${root}${docPath(full)}`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json', 'npm-command': 'publish' }, body: JSON.stringify(doc) });
    if (!put.ok) await refused(put, `the publish of ${full}@${version}`);
    await put.body?.cancel();

    // The target's integrity answer, then the bytes it serves.
    const got = await p.fetch(`${root}${docPath(full)}`, { headers });
    if (!got.ok) await refused(got, `to show ${full} after the publish`);
    const packument = await targetJson<{ versions?: Record<string, Manifest> }>(got, MAX_TARGET_DOCUMENT, `packument of ${full}`);
    const dist = packument.versions?.[version]?.dist;
    const checks = [compare(`${filename} (dist.integrity)`, integrity, dist?.integrity as string | undefined)];
    if (typeof dist?.tarball !== 'string') throw upstreamError(`the target's packument of ${full}@${version} has no tarball URL`);
    const dl = await p.fetch(new URL(dist.tarball, root), { headers });
    if (!dl.ok) await refused(dl, `the download of ${filename}`);
    checks.push(compare(`${filename} (downloaded)`, integrity, `sha512-${(await bodyHash(dl, 'sha512')).toString('base64')}`));
    // A target that serves attestations (npmjs, Wharf) must serve this bundle; one that does not keeps it unseen.
    const attestations = (dist?.attestations as { url?: unknown } | undefined)?.url;
    if (bundle !== undefined && typeof attestations === 'string') {
      const res = await p.fetch(new URL(attestations, root), { headers });
      if (!res.ok) await refused(res, `the attestations of ${full}@${version}`);
      const list = (await targetJson<{ attestations?: { bundle?: unknown }[] }>(res, MAX_TARGET_DOCUMENT, `attestations of ${full}@${version}`)).attestations ?? [];
      const digest = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
      const ours = digest(JSON.stringify(JSON.parse(bundle)));
      const theirs = list.map((a) => digest(JSON.stringify(a.bundle))).find((d) => d === ours);
      checks.push(compare(`${full}-${version}.sigstore (attestations)`, ours, theirs));
    }
    return checks;
  },
};
