// What every fuzz test shares: one seed (fixed, printed, overridable with WHARF_FUZZ_SEED to replay or explore),
// a run-count scale (WHARF_FUZZ_SCALE, e.g. 10 for a long local run), and the property itself: a parser returns a
// value or throws the client's error (a WharfError of a 4xx kind, or the format's own typed error), never a
// TypeError, RangeError, URIError or other crash; over HTTP, a hostile request gets a 4xx, never a 500.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import fc from 'fast-check';
import { WharfError } from '../../src/core/errors.ts';

export const SEED = Number(process.env.WHARF_FUZZ_SEED ?? 20261206);
const SCALE = Number(process.env.WHARF_FUZZ_SCALE ?? 1);

/** fast-check parameters for `runs` cases with the fixed seed; the seed is printed for a replay. */
export function params<T>(t: TestContext, runs: number): fc.Parameters<T> {
  t.diagnostic(`fast-check seed ${SEED} (replay: WHARF_FUZZ_SEED=${SEED}), ${Math.max(1, Math.round(runs * SCALE))} runs`);
  return { seed: SEED, numRuns: Math.max(1, Math.round(runs * SCALE)), endOnFailure: true, includeErrorInReport: true };
}

/** Is `e` what a client is told: a WharfError with a 4xx status (or one of `own`, the format's own error types)? */
export function isClientError(e: unknown, own: (e: unknown) => boolean = () => false): boolean {
  return (e instanceof WharfError && e.status >= 400 && e.status < 500) || own(e);
}

/** Runs `fn`; passes when it returns or throws a client error, fails (rethrowing) on anything else. */
export async function returnsOrRefuses(fn: () => unknown, own?: (e: unknown) => boolean): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!isClientError(e, own)) throw e;
  }
}

/** returnsOrRefuses for a synchronous parser (a synchronous fast-check property must not return a promise). */
export function returnsOrRefusesSync(fn: () => unknown, own?: (e: unknown) => boolean): void {
  try {
    fn();
  } catch (e) {
    if (!isClientError(e, own)) throw e;
  }
}

/** Asserts an HTTP status is a 4xx (2xx allowed with `ok`), with the body in the message. */
export function assertClientStatus(status: number, body: string, what: string, ok = false): void {
  assert.ok((status >= 400 && status < 500) || (ok && status >= 200 && status < 300), `${what} → ${status}: ${body.slice(0, 500)}`);
}

/** encodeURIComponent for any string a generator makes: lone surrogates (which it refuses) become '?'. */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, (c, i: number, all: string) => {
    const pair = /[\uD800-\uDBFF][\uDC00-\uDFFF]/;
    return pair.test(all.slice(i, i + 2)) || pair.test(all.slice(i - 1, i + 1)) ? c : '?';
  }));
}

/** Bytes derived from `base`: random flips, cuts, splices and inserts, as a corrupt or hostile upload would be. */
export function mutated(base: Buffer): fc.Arbitrary<Buffer> {
  const op = fc.oneof(
    fc.record({ k: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ k: fc.constant('cut' as const), at: fc.nat(), n: fc.nat({ max: 64 }) }),
    fc.record({ k: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 32 }) }),
    fc.record({ k: fc.constant('truncate' as const), at: fc.nat() }),
  );
  return fc.array(op, { minLength: 1, maxLength: 6 }).map((ops) => {
    let b = Buffer.from(base);
    for (const o of ops) {
      const at = b.length ? o.at % (b.length + 1) : 0;
      if (o.k === 'flip' && b.length) b[at % b.length] = o.v;
      else if (o.k === 'cut') b = Buffer.concat([b.subarray(0, at), b.subarray(at + o.n)]);
      else if (o.k === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(o.bytes), b.subarray(at)]);
      else if (o.k === 'truncate') b = b.subarray(0, at);
    }
    return b;
  });
}

/** Text derived from `base` by replacing, deleting or inserting pieces (hostile strings included). */
export function mutatedText(base: string, pieces: string[] = []): fc.Arbitrary<string> {
  const hostile = ['%', '%E0%A4%A', '%00', '\u0000', '..', '../', '/', '\\', '"', "'", '<', '>', '&', '&#0;', '&amp;', ']]>', '<!--', '\uFFFF', '\uD800', '𝒳', '\r\n', ' ', '{', '}', '[', ']', ':', '-', '1e999', '-0', '9'.repeat(40), 'x'.repeat(300), ...pieces];
  const piece = fc.oneof(fc.constantFrom(...hostile), fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 4 }));
  const op = fc.record({ at: fc.nat(), del: fc.nat({ max: 12 }), ins: piece });
  return fc.array(op, { minLength: 1, maxLength: 5 }).map((ops) => {
    let s = base;
    for (const o of ops) {
      const at = o.at % (s.length + 1);
      s = s.slice(0, at) + o.ins + s.slice(at + o.del);
    }
    return s;
  });
}
