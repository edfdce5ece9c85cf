// Generic packages under /generic: release assets uploaded with curl and downloaded by URL, as GitLab's and
// Gitea's generic registries offer them (layout and rules in paths.ts):
//   PUT    /generic/OWNER/NAME/VERSION/FILE   upload one file (streamed into the blob store); 201
//   GET    /generic/OWNER/NAME/VERSION/FILE   download it (HEAD, Range, ETag); anonymous for public packages
//   DELETE /generic/OWNER/NAME/VERSION        soft-delete the version (restorable from the REST API and the UI)
// The first file of a version creates it (and the package, private, as every format's); the next ones are added
// to it. A file is immutable once uploaded: the same name again is a 409, whatever its bytes (a release asset is
// cached by every mirror and checked against published checksums), so replacing one takes a new version.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { conflict, invalid, notFound, unauthorized, WharfError } from '../../core/errors.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import { baseUrlOf } from '../../http/actor.ts';
import { parseRange, sendBlob } from '../../http/blob-reply.ts';
import { refuseDeclaredLength } from '../../http/body.ts';
import { genericErrorHandler } from './errors.ts';
import { parseGenericPath, type GenericPath } from './paths.ts';

export const TYPE = 'generic';
const PREFIX = '/generic/';

/** The routes of the generic format. */
export async function genericRoutes(app: FastifyInstance, core: Core): Promise<void> {
  // Bodies stay streams: files go to the blob store as they arrive, never whole into memory.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.setErrorHandler(genericErrorHandler);
  app.addHook('onRequest', refuseDeclaredLength(() => core.config.maxBlobSize));
  app.setNotFoundHandler((req, reply) => reply.code(404).type('text/plain; charset=utf-8').send(req.method === 'HEAD' ? undefined : 'not a generic package path: use /generic/OWNER/NAME/VERSION/FILE\n'));

  /** The request's path below /generic/, parsed (the raw URL: each segment is decoded exactly once). */
  function pathOf(req: FastifyRequest): GenericPath {
    const raw = req.url.split('?')[0];
    if (!raw.startsWith(PREFIX)) throw notFound();
    return parseGenericPath(raw.slice(PREFIX.length));
  }

  /** What an actor who may not see something gets: the challenge when anonymous (wget needs it), else not found. */
  const hidden = (req: FastifyRequest, what: string) => (req.actor.kind === 'anonymous' ? unauthorized('authentication required') : notFound(what));

  /** The live package a path names, if the actor may do `action` on it; a missing one looks like a hidden one. */
  async function packageFor(req: FastifyRequest, p: GenericPath, action: 'read' | 'delete'): Promise<PackageRow> {
    const pkg = await core.packages.find(p.owner, TYPE, p.name);
    return core.authz.authorizeFound(req.actor, action, pkg, () => hidden(req, `package ${p.owner}/${p.name} not found`));
  }

  // ---- downloading ------------------------------------------------------------------------------------------

  async function download(req: FastifyRequest, reply: FastifyReply) {
    const p = pathOf(req);
    if (!p.file) throw notFound('name a file: /generic/OWNER/NAME/VERSION/FILE');
    const pkg = await packageFor(req, p, 'read');
    const f = await core.packages.file(pkg.id, p.version, p.file);
    if (!f) throw notFound(`${p.file} not found in ${p.owner}/${p.name} ${p.version}`);
    const hex = f.blob_digest.slice('sha256:'.length);
    // Inert whatever the bytes are (an .html or .svg asset must not run in Wharf's origin): a download, never a
    // document. http/inert.ts adds the sandboxing CSP and nosniff on top.
    reply
      .type('application/octet-stream')
      .header('content-disposition', `attachment; filename="${f.name}"`)
      .header('etag', `"${hex}"`)
      .header('x-checksum-sha256', hex)
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'private, max-age=0, must-revalidate');
    if (f.sha1) reply.header('x-checksum-sha1', f.sha1);
    const range = parseRange(req.headers.range, f.size);
    if (range === 'invalid') return reply.code(416).header('content-range', `bytes */${f.size}`).send();
    if (req.method === 'HEAD') return reply.code(200).header('content-length', f.size).send();
    if (req.headers['if-none-match'] === `"${hex}"`) return reply.code(304).send();
    // A download is a whole file fetched, or the start of one: a resumed transfer is not counted twice.
    if (!range || range.start === 0) core.downloads.record(f.version_id);
    return sendBlob(core, reply, { digest: f.blob_digest, size: f.size }, { range, redirect: true });
  }

  app.route({ method: ['GET', 'HEAD'], url: '/*', exposeHeadRoute: false, handler: download });

  // ---- uploading --------------------------------------------------------------------------------------------

  /** The request body as a stream that an early error does not destroy, so the error response still reaches the client. */
  const body = (req: FastifyRequest): Readable => {
    const raw = (req.body as Readable | undefined) ?? req.raw;
    return Readable.from(raw.iterator({ destroyOnReturn: false }), { objectMode: false });
  };

  /**
   * The repository a new package links to: `?repository=NAME` (a repository of OWNER the actor can see), else a
   * job token's own repository when it uploads to its owner (a job may only create packages linked to it).
   */
  async function repositoryFor(req: FastifyRequest, ownerId: number, ownerName: string): Promise<number | null> {
    const asked = (req.query as Record<string, string | undefined>).repository;
    if (asked !== undefined) {
      const repo = await core.identity.findRepo(ownerName, asked);
      if (!repo || (req.actor.kind === 'user' && !(await core.authz.canReadRepo(req.actor, repo)))) throw notFound(`no repository named ${ownerName}/${asked}`);
      return repo.id;
    }
    return req.actor.kind === 'job' && req.actor.repositoryOwnerId === ownerId ? req.actor.repositoryId : null;
  }

  async function upload(req: FastifyRequest, reply: FastifyReply) {
    const actor = req.actor;
    if (actor.kind === 'anonymous') throw unauthorized('authentication required to upload');
    const p = pathOf(req);
    if (!p.file) throw invalid('name the file: PUT /generic/OWNER/NAME/VERSION/FILE');
    const file = p.file;
    const owner = await core.identity.findOwner(p.owner);
    if (!owner) throw notFound(`no owner named ${p.owner}`);
    // Everything is decided before the body is read: access, the version's state, the file's novelty.
    const pkg = await core.packages.find(owner.name, TYPE, p.name, { includeDeleted: true });
    let repositoryId: number | null = pkg?.repository_id ?? null;
    if (!pkg) repositoryId = await repositoryFor(req, owner.id, owner.name);
    await core.authz.authorizePublish(actor, owner, pkg ? ({ ...pkg, deleted_at: null } as PackageRow) : undefined, repositoryId, { type: TYPE, name: p.name });
    const existing = pkg ? await core.packages.version(pkg.id, p.version, { includeDeleted: true }) : undefined;
    if (existing?.deleted_at) throw conflict(`version ${p.version} of ${p.owner}/${p.name} was deleted: restore it, or upload another version`);
    if (pkg && (await core.packages.file(pkg.id, p.version, file))) throw conflict(`${file} already exists in ${p.owner}/${p.name} ${p.version}: uploaded files are immutable (upload a new version)`);

    const staged = await core.blobs.put(body(req), { maxSize: core.config.maxBlobSize, extraDigests: ['sha1'] });
    try {
      const declared = req.headers['x-checksum-sha256'];
      if (typeof declared === 'string' && declared.trim().toLowerCase() !== staged.digest.slice(7)) {
        throw invalid(`checksum mismatch: the body's sha256 is ${staged.digest.slice(7)}, the X-Checksum-Sha256 header says ${declared}`);
      }
      const newFile = { name: file, blob: staged, contentType: 'application/octet-stream', primary: false };
      let added = false;
      if (!existing) {
        try {
          await core.publisher.createVersion({
            ownerId: owner.id, type: TYPE, name: p.name, version: p.version, metadata: {},
            // The newest version is the latest (what badges and install commands name).
            packageMetadata: { latest: p.version }, repositoryId, actor, files: [newFile],
          });
          added = true;
        } catch (e) {
          // Another file of the same version won the race to create it: add this one to it.
          if (!(e instanceof WharfError && e.kind === 'Conflict')) throw e;
        }
      }
      if (!added) {
        const current = await core.packages.find(owner.name, TYPE, p.name);
        const v = current && (await core.packages.version(current.id, p.version, { includeDeleted: true }));
        if (!current || !v || v.deleted_at) throw conflict(`version ${p.version} of ${p.owner}/${p.name} was deleted: restore it, or upload another version`);
        try {
          await core.publisher.addFiles(current.id, v.id, [newFile], [], actor);
        } catch (e) {
          if (e instanceof WharfError && e.code === 'EFILECONFLICT') throw conflict(`${file} already exists in ${p.owner}/${p.name} ${p.version}: uploaded files are immutable (upload a new version)`);
          throw e;
        }
      }
    } catch (e) {
      await staged.cancel();
      throw e;
    }
    const url = `${baseUrlOf(core, req)}/generic/${owner.name}/${p.name}/${p.version}/${file}`;
    return reply.code(201).header('location', url).send({ package: p.name, version: p.version, file, size: staged.size, sha256: staged.digest.slice(7), url });
  }

  app.put('/*', upload);

  // ---- deleting ---------------------------------------------------------------------------------------------

  app.delete('/*', async (req, reply) => {
    const p = pathOf(req);
    if (p.file) throw invalid('files are immutable: delete the whole version (DELETE /generic/OWNER/NAME/VERSION)');
    const pkg = await packageFor(req, p, 'delete');
    const v = await core.packages.version(pkg.id, p.version);
    if (!v) throw notFound(`version ${p.version} of ${p.owner}/${p.name} not found`);
    await core.publisher.deleteVersion(pkg.id, v.id, req.actor);
    return reply.code(204).send();
  });
}
