// RubyGems' part of a promotion (core/promote.ts): the .gem POSTed as `gem push` sends it (`Authorization: KEY`,
// verbatim), then downloaded from the target's `gems/` and hashed. The name is inside the gemspec: it never changes.
import { compare, refused, servedDigest, type Promoter } from '../../core/promote.ts';

export const rubygemsPromoter: Promoter = {
  renames: false,
  async push(p) {
    const gem = p.main.files.find((f) => f.primary) ?? p.main.files[0];
    const host = p.url.toString().replace(/\/?$/, '/');
    const { token, username, password } = p.credentials;
    // A RubyGems host takes its API key as the whole Authorization header; a username and password go as Basic.
    const auth = token ?? (username !== undefined ? `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` : undefined);
    const headers: Record<string, string> = auth ? { authorization: auth } : {};
    const res = await p.fetch(new URL('api/v1/gems', host), { method: 'POST', body: new Uint8Array(await p.read(gem.digest)), headers: { ...headers, 'content-type': 'application/octet-stream' } });
    if (!res.ok) await refused(res, `the push of ${gem.name}`);
    await res.body?.cancel();
    // Reading may need other credentials than pushing (an API key is no password): Basic when given, else none.
    const read: Record<string, string> = username !== undefined ? { authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` } : token ? { authorization: `Bearer ${token}` } : {};
    return [compare(gem.name, gem.digest, await servedDigest(p.fetch, new URL(`gems/${gem.name}`, host), read, gem.name))];
  },
};
