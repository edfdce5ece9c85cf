// The documentation in docs/*.md, rendered for visitors at /-/docs/NAME (the footer's "REST API" link is
// /-/docs/api). The files are Wharf's own, but go through the same sanitizing Markdown renderer as a README.
// Read when asked (the folder may be edited while Wharf runs); only names found in the folder are served.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { notFound } from '../../core/errors.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';
import { renderMarkdown } from '../markdown.ts';
import type { Web } from '../web.ts';

export const DOCS_DIR = path.join(import.meta.dirname, '../../../docs');

/** `api` or `api.md` → the file's path, when docs/ has such a page. */
async function docFile(name: string): Promise<string | null> {
  const m = /^([a-z0-9][a-z0-9-]*)(\.md)?$/.exec(name);
  if (!m) return null;
  const file = path.join(DOCS_DIR, `${m[1]}.md`);
  try {
    return (await fs.stat(file)).isFile() ? file : null;
  } catch {
    return null;
  }
}

export async function docsPages(app: FastifyInstance, web: Web): Promise<void> {
  app.get('/-/docs/:name', async (req, reply) => {
    const file = await docFile((req.params as { name: string }).name);
    if (!file) throw notFound();
    const source = await fs.readFile(file, 'utf8');
    // The document's first heading (`# REST API`) is the page's h1 and its title.
    const first = /^#\s+(.+)$/m.exec(source);
    return web.send(
      reply,
      layout(web.ctx(req, reply), {
        title: first ? first[1].trim() : path.basename(file, '.md'),
        main: html`<article class="card doc markdown">${renderMarkdown(source, { document: true })}</article>`,
      }),
    );
  });
}
