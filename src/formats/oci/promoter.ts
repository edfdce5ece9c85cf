// The container format's part of a promotion (core/promote.ts). An image travels with what it is made of and what
// points at it: an index's manifests before it, and after it its referrers (manifests whose `subject` is it, and
// cosign's tag-scheme signature, attestation and SBOM tags `sha256-<hex>.sig|.att|.sbom`). To another registry it is
// the distribution API a client pushes with: each blob (HEAD, else POST + PUT), then each manifest under its tags
// (by digest when it has none); the target's Docker-Content-Digest for every manifest and blob must be ours.
import type { Readable } from 'node:stream';
import { upstreamError } from '../../core/errors.ts';
import type { PackageVersion } from '../../db/tables.ts';
import { compare, refused, targetJson, type Check, type Promoter, type RemoteCredentials, type RemotePush } from '../../core/promote.ts';
import type { VersionMeta } from './manifests.ts';
import { parseOciName } from './names.ts';

const MANIFEST_FILE = 'manifest.json';
const REFERRER_TAG = /^sha256-([a-f0-9]{64})\.(sig|att|sbom)$/;

/** A session with a registry: Basic, or Docker token auth (the realm its 401 names), as a client authenticates. */
class Registry {
  private auth: string | undefined;
  constructor(private readonly root: string, private readonly repo: string, private readonly creds: RemoteCredentials, private readonly get: typeof fetch) {}

  async login(): Promise<void> {
    const res = await this.get(`${this.root}/v2/`);
    await res.body?.cancel();
    if (res.ok) return;
    const challenge = res.headers.get('www-authenticate') ?? '';
    if (res.status !== 401) await refused(res, 'the API check (GET /v2/)');
    // A username and password (or a token as the password) go as Basic, or to the token endpoint as Basic; a token
    // alone is taken for a registry token and sent as it is.
    const secret = this.creds.password ?? this.creds.token;
    const basic = this.creds.username !== undefined ? `Basic ${Buffer.from(`${this.creds.username}:${secret ?? ''}`).toString('base64')}` : undefined;
    if (/^basic/i.test(challenge)) {
      if (!basic) throw upstreamError('the target registry asks for a username and password (--username U --password-stdin)');
      this.auth = basic;
      return;
    }
    const realm = /realm="([^"]+)"/i.exec(challenge)?.[1];
    if (!/^bearer/i.test(challenge) || !realm) throw upstreamError(`the target registry asks for an authentication Wharf does not speak: ${challenge || res.status}`);
    if (!basic && this.creds.token) {
      this.auth = `Bearer ${this.creds.token}`;
      return;
    }
    const u = new URL(realm);
    const service = /service="([^"]+)"/i.exec(challenge)?.[1];
    if (service) u.searchParams.set('service', service);
    u.searchParams.set('scope', `repository:${this.repo}:pull,push`);
    if (this.creds.username) u.searchParams.set('account', this.creds.username);
    const t = await this.get(u, { headers: basic ? { authorization: basic } : {} });
    if (!t.ok) await refused(t, 'a token for the push');
    const body = await targetJson<{ token?: string; access_token?: string }>(t, 64 * 1024, 'token answer');
    const token = body.token ?? body.access_token;
    if (!token) throw upstreamError('the target registry\'s token endpoint answered without a token');
    this.auth = `Bearer ${token}`;
  }

  fetch(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
    const url = /^https?:/.test(path) ? path : `${this.root}/v2/${this.repo}/${path}`;
    return this.get(url, { ...init, headers: { ...init.headers, ...(this.auth ? { authorization: this.auth } : {}) } } as RequestInit);
  }
}

/** The target's repository: the URL's path when it has one (`https://host/team/app`), else OWNER/NAME as here. */
function targetOf(p: RemotePush): { root: string; repo: string } {
  const path = p.url.pathname.replace(/^\/+|\/+$/g, '').replace(/^v2\//, '');
  return { root: p.url.origin, repo: path || `${p.pkg.owner_name.toLowerCase()}/${p.pkg.name}` };
}

export const ociPromoter: Promoter = {
  renames: true,
  checkName(owner, name) {
    parseOciName(`${owner.toLowerCase()}/${name}`);
  },

  async companions({ packages, pkg, version }) {
    const before: PackageVersion[] = [];
    const after: PackageVersion[] = [];
    const seen = new Set([version.id]);
    const add = (list: PackageVersion[], v: PackageVersion | undefined) => {
      if (v && !seen.has(v.id)) {
        seen.add(v.id);
        list.push(v);
      }
    };
    const meta = JSON.parse(version.metadata) as VersionMeta;
    for (const m of meta.manifests ?? []) add(before, await packages.version(pkg.id, m.digest));
    const tags = await packages.tags(pkg.id);
    for (const d of [version.version, ...before.map((v) => v.version)]) {
      for (const v of await packages.versionsWithProperty(pkg.id, 'oci.subject', d)) add(after, v);
      for (const t of tags) {
        const m = REFERRER_TAG.exec(t.name);
        if (m && `sha256:${m[1]}` === d) add(after, await packages.versionById(t.version_id));
      }
    }
    return { before, after };
  },

  async push(p: RemotePush): Promise<Check[]> {
    const { root, repo } = targetOf(p);
    const reg = new Registry(root, repo, p.credentials, p.fetch);
    await reg.login();
    const checks: Check[] = [];
    const pushed = new Set<string>();
    for (const v of p.versions) {
      for (const f of v.files) {
        if (f.name === MANIFEST_FILE || pushed.has(f.digest)) continue;
        pushed.add(f.digest);
        const head = await reg.fetch(`blobs/${f.digest}`, { method: 'HEAD' });
        if (!head.ok) {
          const start = await reg.fetch('blobs/uploads/', { method: 'POST', headers: { 'content-length': '0' } });
          if (start.status !== 202) await refused(start, `an upload of ${f.digest}`);
          await start.body?.cancel();
          const loc = new URL(start.headers.get('location') ?? '', `${root}/v2/${repo}/blobs/uploads/`);
          loc.searchParams.set('digest', f.digest);
          const body: Readable = await p.open(f.digest);
          const put = await reg.fetch(loc.toString(), { method: 'PUT', body: body as unknown as BodyInit, duplex: 'half', headers: { 'content-type': 'application/octet-stream', 'content-length': String(f.size) } } as RequestInit & { headers: Record<string, string> });
          if (put.status !== 201) await refused(put, `the blob ${f.digest}`);
          await put.body?.cancel();
        }
        const check = await reg.fetch(`blobs/${f.digest}`, { method: 'HEAD' });
        if (!check.ok) await refused(check, `to show the blob ${f.digest}`);
        checks.push(compare(`blob ${f.digest}`, f.digest, check.headers.get('docker-content-digest') ?? (Number(check.headers.get('content-length')) === f.size ? f.digest : null)));
      }
      const m = v.files.find((f) => f.name === MANIFEST_FILE);
      if (!m) continue;
      const bytes = await p.read(m.digest);
      const digest = v.version.version;
      for (const ref of [...v.tags.filter((t) => /^[\w][\w.-]{0,127}$/.test(t)), ...(v.tags.length ? [] : [digest])]) {
        const put = await reg.fetch(`manifests/${ref}`, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'content-type': m.contentType } });
        if (put.status !== 201) await refused(put, `the manifest ${digest}${ref !== digest ? ` as ${ref}` : ''}`);
        await put.body?.cancel();
      }
      const got = await reg.fetch(`manifests/${digest}`, { method: 'HEAD', headers: { accept: m.contentType } });
      if (!got.ok) await refused(got, `to show the manifest ${digest}`);
      checks.push(compare(`manifest ${digest}${v.tags.length ? ` (${v.tags.join(', ')})` : ''}`, digest, got.headers.get('docker-content-digest')));
    }
    return checks;
  },
};
