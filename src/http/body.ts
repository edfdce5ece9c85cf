// Reading small request bodies by hand, for contexts whose content-type parser hands over the raw stream, and
// the limits every upload route shares: a declared Content-Length over the limit is refused before the body is
// read, and JSON nesting is bounded (a 200,000-deep array parses, but recursing over it later is a RangeError).
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { invalid, tooLarge } from '../core/errors.ts';

/** Reads at most `limit` bytes of a body; TooLarge past that. */
export async function readSmallBody(stream: Readable | undefined | null, limit: number): Promise<Buffer> {
  if (!stream || typeof (stream as Readable)[Symbol.asyncIterator] !== 'function') return Buffer.alloc(0);
  const parts: Buffer[] = [];
  let size = 0;
  // Not destroyed on an early return: the error response must reach the client first.
  for await (const c of stream.iterator({ destroyOnReturn: false })) {
    size += (c as Buffer).length;
    if (size > limit) throw tooLarge(`request body exceeds ${limit} bytes`);
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

/** Deeper than any protocol document needs, far below what recursion over a parsed document can take. */
export const MAX_JSON_DEPTH = 100;

/** Throws Invalid when JSON text nests arrays and objects deeper than `max` (strings are skipped). */
export function checkJsonDepth(text: string, max: number = MAX_JSON_DEPTH, what = 'the JSON document'): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: to the next quote not escaped by a backslash.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) throw invalid(`${what} nests deeper than ${max} levels`);
    } else if (c === 0x5d || c === 0x7d) depth -= 1;
  }
}

/** Parses JSON text with bounded nesting; Invalid when it is not JSON. */
export function parseJsonText(text: string, what = 'request body'): unknown {
  checkJsonDepth(text, MAX_JSON_DEPTH, what);
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(`${what} is not valid JSON`);
  }
}

/** Reads and parses a small JSON body. */
export async function readJson(stream: Readable | undefined | null, limit: number): Promise<unknown> {
  const buf = await readSmallBody(stream, limit);
  return parseJsonText(buf.toString('utf8'));
}

/**
 * An onRequest hook refusing (413, in the context's error format) a request whose declared Content-Length is over
 * `limitOf(req)`, before anything reads its body: a PUT declaring 10 GB is answered at once, not after 10 GB.
 * A body without a Content-Length is cut off at the same limit by whatever reads it.
 */
export function refuseDeclaredLength(limitOf: (req: FastifyRequest) => number) {
  return async (req: FastifyRequest): Promise<void> => {
    const declared = req.headers['content-length'];
    if (declared === undefined) return;
    const limit = limitOf(req);
    if (!/^\d+$/.test(declared)) throw invalid('Content-Length is not a number');
    if (Number(declared) > limit) throw tooLarge(`request body (Content-Length: ${declared}) exceeds ${limit} bytes`);
  };
}
