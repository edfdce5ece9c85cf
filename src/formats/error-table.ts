// A protocol's errors as data (as distribution's errcode registry): a table of the errors a format answers, keyed
// by name, and the entry each of the core's error kinds is answered with. Each format's errors.ts holds its table
// and renders an entry in its own wire format; this is only the lookup they share.
import { kindOfStatus, WharfError, type ErrorKind } from '../core/errors.ts';

/** The entry names most tables answer the core's error kinds with (a format whose table uses them need not repeat the map). */
export const ENTRY_BY_KIND = {
  NotFound: 'NOT_FOUND',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  Invalid: 'INVALID',
  Conflict: 'CONFLICT',
  TooLarge: 'TOO_LARGE',
  Unsupported: 'UNSUPPORTED',
  TooManyRequests: 'TOO_MANY_REQUESTS',
  Upstream: 'BAD_GATEWAY',
} as const satisfies Record<ErrorKind, string>;

export interface ErrorEntry {
  status: number;
  message: string;
}

/** Throwing and looking up the entries of `table`; `byKind` answers the core's errors, which carry no name. */
export function errorTable<N extends string, E extends ErrorEntry>(table: Record<N, E>, byKind: Record<ErrorKind, N>) {
  return {
    /** An error answered with `name`'s entry; `message` defaults to the table's. */
    error(name: Exclude<N, 'UNKNOWN'>, message?: string): WharfError {
      const e = table[name];
      return new WharfError(kindOfStatus(e.status), message ?? e.message, name);
    },
    /** The entry an error is answered with: its own when it names one of this table's, else its kind's. */
    entryOf(err: WharfError): E {
      const name = err.code !== undefined && err.code !== 'UNKNOWN' && Object.hasOwn(table, err.code) ? (err.code as N) : byKind[err.kind];
      return table[name];
    },
  };
}

/**
 * Puts a 4xx message in the HTTP reason phrase too (`413 storage quota exceeded for …`): Maven, Gradle and
 * NuGet.exe print only the status line of a refused upload, never its body (nuget.org does the same). Only
 * visible ASCII and spaces are allowed there (Node refuses others), so anything else becomes `?`; HTTP/2 has
 * no reason phrase.
 */
export function reasonPhrase(reply: { raw: { statusMessage?: string } }, status: number, message: string): void {
  if (status < 400 || status >= 500 || !('statusMessage' in reply.raw)) return;
  // eslint-disable-next-line no-control-regex
  reply.raw.statusMessage = message.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
}
