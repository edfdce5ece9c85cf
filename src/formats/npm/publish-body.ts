// Reads an npm publish body as a stream. npm sends one JSON document whose `_attachments[*].data` is the whole
// tarball in base64, so the document can be hundreds of megabytes. We scan the JSON text once: every string
// shorter than LARGE stays in a small "skeleton" that is parsed with JSON.parse; the one string that is longer
// is replaced there by a placeholder and its base64 is decoded on the fly into a stream, so memory stays flat
// whatever the tarball's size. The caller checks that the placeholder sits where the tarball belongs.
// Nesting is bounded while scanning: a 200,000-deep array parses, but walking or serializing it later overflows
// the stack (a RangeError, a 500), so it is refused here as the client's error.
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { invalid, tooLarge } from '../../core/errors.ts';

export const LARGE_STRING_PLACEHOLDER = '\u0000wharf-large-string';
// The opening quote is already in the skeleton when a string turns out to be large.
const PLACEHOLDER_JSON = Buffer.from('\\u0000wharf-large-string"');

const QUOTE = 0x22, BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b, OPEN_OBJECT = 0x7b, CLOSE_ARRAY = 0x5d, CLOSE_OBJECT = 0x7d;
/** Deeper than any package.json needs, far below what recursion over the document can take. */
export const MAX_DEPTH = 100;
const BASE64 = /^[A-Za-z0-9+/]*$/;

export interface PublishBodyOptions {
  /** Whole body limit, in bytes. */
  maxBody: number;
  /** Limit for everything but the large string, in bytes. */
  maxDocument: number;
  /** Strings at least this long are streamed instead of kept (default 1 MiB). */
  largeString?: number;
  /** Deepest nesting of arrays and objects (default MAX_DEPTH). */
  maxDepth?: number;
}

/**
 * The attachment key must be the tarball file name of `full`@`version`: npm, pnpm and yarn send
 * `@scope/name-V.tgz`, older tools `name-V.tgz`. Anything else (`../../../x.tgz`) is refused.
 */
export function checkAttachmentKey(key: string, full: string, version: string): void {
  const bare = full.slice(full.indexOf('/') + 1);
  if (key !== `${full}-${version}.tgz` && key !== `${bare}-${version}.tgz`) throw invalid(`the attachment "${key.slice(0, 300)}" is not ${full}-${version}.tgz`);
}

export interface ParsedPublishBody<T> {
  doc: unknown;
  /** What `onLargeString` returned, when the body held a large string. */
  large: T | null;
}

/** Decodes base64 text arriving in pieces; strict alphabet, padding only at the very end. */
class Base64Decoder {
  private carry = '';
  private padded = false;
  decode(text: string): Buffer {
    if (this.padded && text.length) throw invalid('attachment data is not valid base64');
    let s = this.carry + text;
    const eq = s.indexOf('=');
    if (eq >= 0) {
      if (!/^=*$/.test(s.slice(eq)) || s.length - eq > 2) throw invalid('attachment data is not valid base64');
      this.padded = true;
    }
    if (!BASE64.test(eq >= 0 ? s.slice(0, eq) : s)) throw invalid('attachment data is not valid base64');
    const n = this.padded ? s.length : s.length - (s.length % 4);
    this.carry = s.slice(n);
    s = s.slice(0, n);
    return Buffer.from(s, 'base64');
  }
  end(): void {
    if (this.carry.length) throw invalid('attachment data is not valid base64 (truncated)');
  }
}

/**
 * Parses a publish body from `body`. `onLargeString` is called at most once, with a stream of the decoded
 * bytes of the large string; its promise must settle when it has consumed the stream.
 */
export async function parsePublishBody<T>(
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
  opts: PublishBodyOptions,
  onLargeString: (bytes: Readable) => Promise<T>,
): Promise<ParsedPublishBody<T>> {
  const LARGE = opts.largeString ?? 1 << 20;
  const maxDepth = opts.maxDepth ?? MAX_DEPTH;
  let depth = 0;
  const skeleton: Buffer[] = [];
  let skeletonSize = 0;
  let total = 0;

  let inString = false;
  let pendingEscape = false;
  let str: Buffer[] = [];
  let strSize = 0;

  let diverted: { out: PassThrough; done: Promise<T>; decoder: Base64Decoder } | null = null;
  let divertedEver = false;
  let large: T | null = null;

  const keep = (b: Buffer) => {
    skeletonSize += b.length;
    if (skeletonSize > opts.maxDocument) throw tooLarge(`package document exceeds ${opts.maxDocument} bytes`);
    skeleton.push(b);
  };
  // Text outside strings: the only place brackets nest.
  const keepStructure = (b: Buffer) => {
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
        if (++depth > maxDepth) throw invalid(`the package document nests deeper than ${maxDepth} levels`);
      } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth -= 1;
    }
    keep(b);
  };
  const emit = async (text: string) => {
    const d = diverted!;
    const bytes = d.decoder.decode(text);
    if (bytes.length && !d.out.write(bytes)) await Promise.race([once(d.out, 'drain'), d.done]);
  };
  const startDiversion = async () => {
    if (divertedEver) throw tooLarge('only the tarball may be larger than 1 MiB in a publish document');
    divertedEver = true;
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const d = { out, decoder: new Base64Decoder(), done: onLargeString(out) };
    d.done.catch(() => {}); // observed below; avoid an unhandled rejection while we are still scanning
    diverted = d;
    keep(PLACEHOLDER_JSON);
    const raw = Buffer.concat(str).toString('latin1');
    // The string began as an ordinary one: "\/" is the only escape base64 text can carry.
    const pending = raw.replace(/\\\//g, '/');
    if (pending.includes('\\')) throw invalid('attachment data is not valid base64');
    str = [];
    strSize = 0;
    await emit(pending);
  };
  // Content of a string segment [from, to) of chunk: into the skeleton's string or the diverted stream.
  const stringBytes = async (chunk: Buffer, from: number, to: number) => {
    if (to <= from) return;
    if (diverted) return emit(chunk.toString('latin1', from, to));
    str.push(chunk.subarray(from, to));
    strSize += to - from;
    if (strSize >= LARGE) await startDiversion();
  };

  try {
    for await (const chunk of body) {
      total += chunk.length;
      if (total > opts.maxBody) throw tooLarge(`request body exceeds ${opts.maxBody} bytes`);
      let pos = 0;
      while (pos < chunk.length) {
        if (!inString) {
          const q = chunk.indexOf(QUOTE, pos);
          if (q < 0) {
            keepStructure(chunk.subarray(pos));
            break;
          }
          keepStructure(chunk.subarray(pos, q + 1));
          inString = true;
          pos = q + 1;
          continue;
        }
        if (pendingEscape) {
          // The escaped character opened the previous chunk's escape sequence.
          pendingEscape = false;
          if (diverted) {
            if (chunk[pos] !== 0x2f) throw invalid('attachment data is not valid base64');
            await emit('/');
          } else await stringBytes(Buffer.from([BACKSLASH, chunk[pos]]), 0, 2);
          pos += 1;
          continue;
        }
        const q = chunk.indexOf(QUOTE, pos);
        const bs = chunk.indexOf(BACKSLASH, pos);
        if (bs >= 0 && (q < 0 || bs < q)) {
          if (diverted) {
            await stringBytes(chunk, pos, bs);
            if (bs + 1 >= chunk.length) {
              pendingEscape = true;
              pos = chunk.length;
            } else {
              if (chunk[bs + 1] !== 0x2f) throw invalid('attachment data is not valid base64');
              await emit('/'); // "\/" is a legal JSON escape of "/"
              pos = bs + 2;
            }
          } else if (bs + 1 >= chunk.length) {
            await stringBytes(chunk, pos, bs); // the backslash is re-added with its escaped character
            pendingEscape = true;
            pos = chunk.length;
          } else {
            await stringBytes(chunk, pos, bs + 2);
            pos = bs + 2;
          }
          continue;
        }
        if (q < 0) {
          await stringBytes(chunk, pos, chunk.length);
          break;
        }
        await stringBytes(chunk, pos, q);
        inString = false;
        pos = q + 1;
        if (diverted) {
          const d: { out: PassThrough; done: Promise<T>; decoder: Base64Decoder } = diverted;
          d.decoder.end();
          d.out.end();
          large = await d.done;
          diverted = null;
        } else {
          for (const b of str) keep(b);
          keep(chunk.subarray(q, q + 1));
          str = [];
          strSize = 0;
        }
      }
    }
    if (inString || pendingEscape) throw invalid('request body is truncated JSON');
  } catch (err) {
    const d = diverted as { out: PassThrough; done: Promise<T> } | null;
    if (d) {
      d.out.destroy(err as Error);
      await d.done.catch(() => {});
    }
    throw err;
  }
  const text = Buffer.concat(skeleton).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid('request body is not valid JSON');
  }
  return { doc, large };
}
