// Tags: the list of a repository's tags, in the spec's order, paginated with `n` and `last`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ociError } from '../errors.ts';
import type { OciContext, OciResource, Q, Target } from './route.ts';

/** The tags resource: `<name>/tags/list`. */
export function tagResources({ core }: OciContext): OciResource[] {
  async function listTags(req: FastifyRequest, reply: FastifyReply, { n, pkg }: Target) {
    const tags = (await core.packages.tags(pkg.id)).map((t) => t.name);
    return sendTagPage(reply, n.full, tags, req.query as Q);
  }

  return [{ path: /^(.+)\/tags\/list$/, methods: { GET: { access: 'pull', handler: listTags } } }];
}

/**
 * Answers a tag list request: `tags` in the spec's order (lexical, case-insensitive as the spec words it, ties by
 * bytes so the order is total for `last`), after `last`, at most `n` with a Link to the next page.
 */
export function sendTagPage(reply: FastifyReply, full: string, all: string[], q: Q) {
  let tags = [...all].sort(tagOrder);
  if (q.last) tags = tags.filter((t) => tagOrder(t, q.last!) > 0);
  if (q.n !== undefined) {
    const count = Number(q.n);
    if (!Number.isInteger(count) || count < 0) throw ociError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer');
    if (tags.length > count && count > 0) {
      tags = tags.slice(0, count);
      reply.header('link', `</v2/${full}/tags/list?n=${count}&last=${encodeURIComponent(tags[tags.length - 1])}>; rel="next"`);
    } else tags = tags.slice(0, count);
  }
  return reply.send({ name: full, tags });
}

/** Case-insensitive lexical order of tags, ties broken by bytes. */
export function tagOrder(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
