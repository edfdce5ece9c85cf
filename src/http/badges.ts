// Badges for READMEs: a public package's latest version and download count,
//   GET /badge/TYPE/OWNER/NAME/version.svg | downloads.svg     an SVG image (shields.io's flat style)
//   GET /badge/TYPE/OWNER/NAME/version.json | downloads.json   a shields.io endpoint document
// NAME may hold '/' (an image's `team/app`) or be percent-encoded. A badge is embedded in public pages, fetched
// by image proxies that carry no credentials, and cached: it shows only what anyone may read. So the question is
// asked for an anonymous actor whoever asks (core.authz decides it): a private or internal package is a 404
// even to its owner, signed in, so a badge never leaks what a README's readers cannot see.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { anonymous } from '../core/auth/actor.ts';
import type { Core } from '../core/core.ts';
import { packageDownloadTotals } from '../core/model/downloads.ts';
import type { PackageRow } from '../core/model/packages.ts';
import { formatOf } from '../formats/index.ts';
import { badgeSvg, endpointJson, shortCount, type Badge } from './badge-svg.ts';

/** Short: a new release shows within minutes, and a package made private stops showing as soon. */
const CACHE = 'public, max-age=300, s-maxage=300';
const KINDS = new Set(['version.svg', 'version.json', 'downloads.svg', 'downloads.json']);

/** The version a package's badge names: its recorded latest while live, else its 'latest' tag's, else its newest. */
async function latestVersion(core: Core, pkg: PackageRow): Promise<string | null> {
  const [versions, tags] = await Promise.all([core.packages.versions(pkg.id), core.packages.tags(pkg.id)]);
  if (!versions.length) return null;
  let recorded: unknown;
  try {
    recorded = (JSON.parse(pkg.metadata) as { latest?: unknown }).latest;
  } catch {}
  if (typeof recorded === 'string' && versions.some((v) => v.version === recorded)) return recorded;
  const latestTag = tags.find((t) => t.name === 'latest');
  const id = latestTag?.version_id ?? Math.max(...tags.map((t) => t.version_id), versions.at(-1)!.id);
  const v = versions.find((x) => x.id === id) ?? versions.at(-1)!;
  // An image's versions are manifest digests: the badge names a tag of it instead ('latest' only when it has no other).
  if (!v.version.startsWith('sha256:')) return v.version;
  const named = tags.filter((t) => t.version_id === v.id).map((t) => t.name);
  return named.find((n) => n !== 'latest') ?? named[0] ?? v.version.slice(0, 19);
}

export async function badgeRoutes(app: FastifyInstance, core: Core): Promise<void> {
  app.setErrorHandler((err, req, reply) => {
    req.log.error({ err }, 'badge failed');
    return reply.code(500).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('internal server error\n');
  });
  const missing = (reply: FastifyReply) => reply.code(404).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('not found\n');
  app.setNotFoundHandler((_req, reply) => missing(reply));

  app.get('/*', async (req: FastifyRequest, reply: FastifyReply) => {
    let parts: string[];
    try {
      parts = req.url.split('?')[0].split('/').slice(2).map(decodeURIComponent);
    } catch {
      return missing(reply);
    }
    if (parts.length < 4 || !KINDS.has(parts.at(-1)!)) return missing(reply);
    const [type, owner] = parts;
    const name = parts.slice(2, -1).join('/');
    const [what, ext] = parts.at(-1)!.split('.');
    const fmt = formatOf(type);
    if (!fmt || !name) return missing(reply);
    const pkg = await core.packages.find(owner, type, name);
    if (!pkg || !(await core.authz.canRead(anonymous, pkg))) return missing(reply);
    let badge: Badge;
    if (what === 'version') {
      const v = await latestVersion(core, pkg);
      badge = { label: type, message: v === null ? 'no versions' : /^\d/.test(v) ? `v${v}` : v, color: v === null ? 'lightgrey' : 'blue' };
    } else {
      const total = (await packageDownloadTotals(core, [pkg.id])).get(pkg.id) ?? 0;
      badge = { label: 'downloads', message: shortCount(total), color: 'brightgreen' };
    }
    reply.header('cache-control', CACHE);
    if (ext === 'json') return reply.type('application/json; charset=utf-8').send(endpointJson(badge));
    // Drawn by Wharf from escaped text: shown where opened (http/inert.ts still sandboxes it and forbids sniffing).
    return reply.type('image/svg+xml; charset=utf-8').header('content-disposition', 'inline').send(badgeSvg(badge));
  });
}
