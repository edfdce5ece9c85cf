// NuGet's part of a promotion (core/promote.ts): the feed's service index names where to push (PackagePublish) and
// where packages are read (PackageBaseAddress); the .nupkg is PUT as NuGet.exe sends it (multipart, X-NuGet-ApiKey),
// then downloaded from the flat container and hashed. The id is inside the nuspec: it never changes.
import { randomUUID } from 'node:crypto';
import { upstreamError } from '../../core/errors.ts';
import { authorization, compare, refused, servedDigest, targetJson, type Promoter } from '../../core/promote.ts';

export const nugetPromoter: Promoter = {
  renames: false,
  async push(p) {
    const nupkg = p.main.files.find((f) => f.name.endsWith('.nupkg')) ?? p.main.files[0];
    const index = p.url.pathname.endsWith('.json') ? p.url : new URL(`${p.url.toString().replace(/\/?$/, '/')}index.json`);
    const { token, username, password } = p.credentials;
    // The API key pushes; reading a private feed takes Basic (or the key as a bearer token).
    const read: Record<string, string> = username !== undefined ? { authorization: authorization({ username, password })! } : token ? { authorization: `Bearer ${token}` } : {};
    const res = await p.fetch(index, { headers: read });
    if (!res.ok) await refused(res, 'to show its service index');
    const doc = await targetJson<{ resources?: { '@id': string; '@type': string | string[] }[] }>(res, 4 * 1024 * 1024, 'service index');
    const find = (type: string) => doc.resources?.find((r) => [r['@type']].flat().some((t) => t.startsWith(type)))?.['@id'];
    const publish = find('PackagePublish/2.0.0');
    const flat = find('PackageBaseAddress/3.0.0');
    if (!publish || !flat) throw upstreamError(`the target's service index has no ${publish ? 'PackageBaseAddress/3.0.0' : 'PackagePublish/2.0.0'}`);
    const boundary = randomUUID();
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="package"; filename="package"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      await p.read(nupkg.digest),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const put = await p.fetch(publish.replace(/\/?$/, '/'), {
      method: 'PUT', body: new Uint8Array(body),
      headers: { ...read, 'content-type': `multipart/form-data; boundary="${boundary}"`, ...(token ?? password ? { 'x-nuget-apikey': (token ?? password)! } : {}) },
    });
    if (!put.ok) await refused(put, `the push of ${nupkg.name}`);
    await put.body?.cancel();
    // The flat container names files by the lower-cased id and normalized version, as the stored name does.
    const lower = nupkg.name.toLowerCase();
    const version = p.main.version.version.toLowerCase();
    const id = lower.slice(0, -(`.${version}.nupkg`.length));
    const url = `${flat.replace(/\/?$/, '/')}${id}/${version}/${lower}`;
    return [compare(nupkg.name, nupkg.digest, await servedDigest(p.fetch, url, read, nupkg.name))];
  },
};
