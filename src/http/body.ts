// Reading small request bodies by hand, for contexts whose content-type parser hands over the raw stream.
import type { Readable } from 'node:stream';
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

/** Reads and parses a small JSON body. */
export async function readJson(stream: Readable | undefined | null, limit: number): Promise<unknown> {
  const buf = await readSmallBody(stream, limit);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw invalid('request body is not valid JSON');
  }
}
