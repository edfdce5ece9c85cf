// What keeps package content from running as a page of Wharf's origin. Package files and protocol documents
// carry bytes and strings users chose (a POM or nuspec holding an XHTML <script>, an SVG, a javadoc page, a
// name in an Atom feed); opened in a browser by a signed-in user, such a file ran with that user's cookies,
// read /-/settings/tokens and minted a token (issue 17, finding 4). So, on every response Wharf sends:
//   - `X-Content-Type-Options: nosniff`: a browser takes the declared type and never guesses a renderable one;
// and on everything outside the web UI (the formats, the REST API, health, and their errors), which is data:
//   - `Content-Security-Policy: default-src 'none'; sandbox`: should a browser render it, it runs no script,
//     loads nothing, and lives in an opaque origin without Wharf's cookies;
//   - `Content-Disposition: attachment` unless the type is plain text or JSON (which browsers only display) or
//     the route chose a disposition itself: a browser saves it instead of rendering it.
// Content-Types stay what each client needs (mvn and Gradle read application/xml POMs and maven-metadata.xml,
// NuGet application/xml nuspecs, docker and skopeo the manifest's media type); no client reads the other two.
import type { FastifyReply } from 'fastify';

export const INERT_CSP = "default-src 'none'; sandbox";

/** Whether browsers only display content of this type as text (never as a document that runs script). */
export function displayedAsText(contentType: string): boolean {
  const essence = contentType.split(';')[0].trim().toLowerCase();
  return essence === 'text/plain' || essence === 'application/json' || (essence.startsWith('application/') && essence.endsWith('+json'));
}

/** True when `url` is below one of `prefixes` ('/maven' covers '/maven', '/maven/…' and '/maven?…'). */
export function isBelow(url: string, prefixes: readonly string[]): boolean {
  for (const p of prefixes) {
    if (url.startsWith(p) && (url.length === p.length || url[p.length] === '/' || url[p.length] === '?')) return true;
  }
  return false;
}

/** Sets the headers above on a response about to be sent; `data` is false only for the web UI's own pages. */
export function makeInert(reply: FastifyReply, payload: unknown, data: boolean): void {
  reply.header('x-content-type-options', 'nosniff');
  if (!data) return;
  reply.header('content-security-policy', INERT_CSP);
  if (reply.hasHeader('content-disposition')) return;
  const type = reply.getHeader('content-type');
  // No type and no body: nothing to render. A body without a type is what browsers sniff: a download.
  if (type === undefined ? payload != null && payload !== '' : !displayedAsText(String(type))) reply.header('content-disposition', 'attachment');
}
