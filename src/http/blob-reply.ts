// The one place package content leaves Wharf: every format's download route, once it has decided access and
// set its headers (type, digest, etag, disposition), hands the blob to sendBlob(). It sends the bytes in one of
// three ways, the first that applies:
//   1. X-Accel-Redirect (WHARF_ACCEL_REDIRECT, filesystem store behind nginx): headers only, with
//      `X-Accel-Redirect: <location><path under the blob folder>`; nginx serves the file from its `internal`
//      location (deploy/nginx.conf), ranges included, and Wharf never reads it. The location copies Wharf's
//      headers back onto the response, so the content stays inert (http/inert.ts) and keeps its digest headers.
//   2. A 307 to a presigned S3 URL (WHARF_S3_REDIRECT=on), for content of at least WHARF_S3_REDIRECT_MIN_BYTES,
//      on routes whose real clients follow redirects (as distribution's `redirect` option does). The client
//      re-sends its Range to S3. The URL is signed with the type and disposition Wharf would have sent.
//   3. Wharf itself: small content from memory (BlobCache), the rest streamed from the store.
// Access was decided before any of this: a redirect is only another way to send bytes the actor may read.
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { ByteRange } from '../core/blobs/blob-store.ts';
import type { Core } from '../core/core.ts';
import { displayedAsText } from './inert.ts';

export interface BlobToSend {
  /** `sha256:<hex>` */
  digest: string;
  size: number;
}

export interface SendOptions {
  /** A satisfiable byte range the client asked for (206); the caller answered 416 for unsatisfiable ones. */
  range?: ByteRange | null;
  /** Whether this route's clients follow a 307 to another host (only those get S3 redirects). */
  redirect?: boolean;
}

/** Sends an authorized blob GET: the caller has set its content headers; this sets status, length and body. */
export async function sendBlob(core: Core, reply: FastifyReply, blob: BlobToSend, opts: SendOptions = {}): Promise<FastifyReply> {
  const { accelRedirect, s3Redirect } = core.config.blobDelivery;
  const rel = accelRedirect ? core.blobs.relativePath?.(blob.digest) : undefined;
  if (accelRedirect && rel) {
    // nginx takes the file's length and the client's Range from the original request; our body is empty. It
    // says Accept-Ranges itself (a route's own would arrive twice).
    reply.removeHeader('accept-ranges');
    return reply.code(200).header('x-accel-redirect', `${accelRedirect}${rel}`).header('content-length', 0).send();
  }
  if (s3Redirect && opts.redirect && core.blobs.presignGet && blob.size >= s3Redirect.minBytes) {
    const type = String(reply.getHeader('content-type') ?? 'application/octet-stream');
    const disposition = reply.getHeader('content-disposition');
    const url = await core.blobs.presignGet(blob.digest, {
      expiresIn: s3Redirect.expirySeconds,
      contentType: type,
      // What makeInert would add: content a browser might render is downloaded instead.
      contentDisposition: disposition !== undefined ? String(disposition) : displayedAsText(type) ? undefined : 'attachment',
    });
    // The URL expires: nothing may cache the redirect (an npm route's "immutable" is about the content).
    reply.removeHeader('etag');
    reply.removeHeader('content-range');
    reply.removeHeader('accept-ranges');
    return reply.code(307).header('location', url).header('cache-control', 'no-store').header('content-length', 0).send();
  }
  if (opts.range) {
    const { start, end } = opts.range;
    const stream = await core.blobs.open(blob.digest, opts.range);
    return reply.code(206).header('content-range', `bytes ${start}-${end}/${blob.size}`).header('content-length', end - start + 1).send(stream);
  }
  return reply.code(200).header('content-length', blob.size).send(await core.blobCache.content(blob.digest, blob.size));
}

/** `Range: bytes=a-b` → inclusive range (the routes that serve files with ranges share it); null when absent; 'invalid' when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'invalid' {
  if (!header) return null;
  // RFC 9110: a range unit we do not know, or several ranges, may be ignored (the whole blob is sent).
  if (!/^bytes=/i.test(header.trim()) || header.includes(',')) return null;
  const m = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

/**
 * Sends content while a pull-through proxy is still storing it (core/proxy's Fetching.live): its length when the
 * upstream declared one. The response starts with the first bytes ready, so content refused before that (a small
 * file failing its check) is answered with the protocol's error; later, a refusal cuts the response short. A
 * client that goes away drops only its own copy; the fetch goes on for the cache.
 */
export async function sendLive(reply: FastifyReply, live: { body: Readable; size: number | null }): Promise<FastifyReply> {
  const body = live.body;
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) body.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const ready = () => {
      body.off('readable', ready).off('end', ready).off('close', ready).off('error', failed);
      resolve();
    };
    const failed = (e: Error) => {
      body.off('readable', ready).off('end', ready).off('close', ready).off('error', failed);
      reject(e);
    };
    body.once('readable', ready).once('end', ready).once('close', ready).once('error', failed);
  });
  if (live.size !== null) reply.header('content-length', live.size);
  return reply.code(200).send(body);
}
