// NuGet symbols under /nuget/OWNER: symbol packages and a symbol server (SSQP, as Visual Studio and
// dotnet-symbol query it).
//   PUT /api/v2/symbolpackage[/]                           push a .snupkg (multipart, as PackagePublish) for a
//                                                          version already pushed; 409 when it has symbols already
//   GET /v3/symbol-packages/ID/VERSION/ID.VERSION.snupkg   the .snupkg
//   GET /symbols/FILE.pdb/KEY/FILE.pdb                     a portable PDB by its SSQP key ({guid}FFFFFFFF);
//                                                          a SymbolChecksum header, when sent, must match
// Files of a version with symbols: `ID.VERSION.snupkg`, and each PDB as `symbols/NAME/KEY/NAME` with a version
// property `nuget.symbol` = `name/key` (lower-cased) that the symbol server looks up. Access follows the package.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.ts';
import { conflict, invalid, notFound, tooLarge, WharfError } from '../../core/errors.ts';
import type { NewFile } from '../../core/publish.ts';
import { sendBlob } from '../../http/blob-reply.ts';
import { TYPE, type NuGetContext, type Params } from './context.ts';
import { DEFAULT_NUPKG_LIMITS } from './nupkg.ts';
import { pdbMatches } from './pe.ts';
import { assembliesOf, readSnupkg, type SymbolFile } from './snupkg.ts';
import { parseVersion } from './versions.ts';

export const SYMBOL_PROPERTY = 'nuget.symbol';
/** `name/key sha256:<hex>`: the PDB checksum, checked against a request's SymbolChecksum header. */
export const CHECKSUM_PROPERTY = 'nuget.symbolchecksum';
export const snupkgName = (id: string, version: string) => `${id.toLowerCase()}.${version.toLowerCase()}.snupkg`;
const pdbFileName = (name: string, key: string) => `symbols/${name}/${key}/${name}`;

export function symbolRoutes(app: FastifyInstance, core: Core, ctx: NuGetContext): void {
  async function matchesChecksum(packageId: number, versionId: number, key: string, wanted: string[]): Promise<boolean> {
    for (const c of wanted) if ((await core.packages.versionsWithProperty(packageId, CHECKSUM_PROPERTY, `${key} ${c}`)).some((v) => v.id === versionId)) return true;
    return false;
  }

  /**
   * Each PDB must belong to an assembly of the version's own .nupkg (nuget.org's rule): a CodeView entry naming its
   * id, and the PDB checksum the assembly records. The symbol server answers by key across the owner's packages,
   * so without this a member could push, for a package of their own, a PDB under the key of another's assembly.
   */
  async function checkAgainstAssemblies(id: string, version: string, versionId: number, pdbs: SymbolFile[]): Promise<void> {
    const nupkg = await core.db.selectFrom('package_files').select(['blob_digest', 'size']).where('version_id', '=', versionId).where('is_primary', '=', 1).executeTakeFirst();
    if (!nupkg) throw notFound(`${id} ${version} has no .nupkg`);
    const tmp = path.join(ctx.spool, `${randomUUID()}.nupkg`);
    try {
      await pipeline(await core.blobs.open(nupkg.blob_digest), fs.createWriteStream(tmp));
      const assemblies = await assembliesOf(tmp, 0, nupkg.size, { ...DEFAULT_NUPKG_LIMITS, ...core.config.inflation });
      for (const p of pdbs) {
        if (!assemblies.some((a) => pdbMatches(a, p.id, p.checksum))) {
          throw invalid(`${p.path} is not the PDB of an assembly in ${id} ${version}: a symbol package carries the PDBs of its own package's DLLs (their debug directory names each PDB's id and checksum)`);
        }
      }
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  }

  const pushSymbols = async (req: FastifyRequest, reply: FastifyReply) => {
    const actor = await ctx.writer(req);
    const owner = await ctx.ownerOf((req.params as Params).owner);
    // The id is inside the upload: refuse first who could push nothing here.
    await core.authz.authorizePushUnder(actor, owner, TYPE);
    const tmp = path.join(ctx.spool, `${randomUUID()}.upload`);
    try {
      const size = await ctx.spoolBody((req.body as Readable | undefined) ?? Readable.from([]), tmp, core.config.maxBlobSize + 64 * 1024);
      const ct = String(req.headers['content-type'] ?? '');
      const { start, end } = /^multipart\//i.test(ct) ? await ctx.multipartRange(tmp, size, ct) : { start: 0, end: size };
      if (end - start > core.config.maxBlobSize) throw tooLarge(`the symbol package is larger than ${core.config.maxBlobSize} bytes`);
      const facts = await readSnupkg(tmp, start, end - start, core.blobs, core.config.maxBlobSize, { ...DEFAULT_NUPKG_LIMITS, ...core.config.inflation });
      const staged = facts.pdbs.map((p) => p.blob);
      try {
        const spec = facts.nuspec;
        const version = parseVersion(spec.version)!.normalized;
        const pkg = await ctx.loadPackage(actor, owner, spec.id, 'write');
        const row = await core.packages.version(pkg.id, version);
        if (!row) throw notFound(`${pkg.name} ${version} not found: push the .nupkg before its symbols`);
        const name = snupkgName(pkg.name, version);
        if (await core.packages.file(pkg.id, version, name)) throw conflict(`${pkg.name} ${version} already has symbols`);
        await checkAgainstAssemblies(pkg.name, version, row.id, facts.pdbs);
        const snupkg = await core.blobs.put(fs.createReadStream(tmp, { start, end: end - 1 }), { maxSize: core.config.maxBlobSize, extraDigests: ['sha512'] });
        staged.push(snupkg);
        const files: NewFile[] = [
          { name, blob: snupkg, contentType: 'application/octet-stream' },
          ...facts.pdbs.map((p) => ({ name: pdbFileName(p.name, p.key), blob: p.blob, contentType: 'application/octet-stream' })),
        ];
        const properties = facts.pdbs.flatMap((p) => [
          { name: SYMBOL_PROPERTY, value: `${p.name}/${p.key}`.toLowerCase() },
          { name: CHECKSUM_PROPERTY, value: `${p.name}/${p.key} sha256:${p.checksum}`.toLowerCase() },
        ]);
        await core.publisher.addFiles(pkg.id, row.id, files, properties, actor);
        return reply.code(201).type('text/plain; charset=utf-8').send(`Pushed symbols of ${pkg.name} ${version} (${facts.pdbs.length} PDB${facts.pdbs.length === 1 ? '' : 's'})\n`);
      } catch (e) {
        for (const b of staged) await b.cancel();
        if (e instanceof WharfError && e.kind === 'Conflict' && e.code === 'EFILECONFLICT') throw conflict(`${facts.nuspec.id} ${facts.nuspec.version} already has symbols`);
        throw e;
      }
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  };
  app.put('/:owner/api/v2/symbolpackage', pushSymbols);

  app.get('/:owner/v3/symbol-packages/:id/:version/:file', async (req, reply) => {
    const p = req.params as Params;
    const owner = await ctx.ownerOf(p.owner);
    const pkg = await ctx.loadPackage(req.actor, owner, p.id, 'read');
    const v = parseVersion(p.version);
    if (!v || p.file.toLowerCase() !== snupkgName(pkg.name, v.normalized)) throw notFound(`${p.file} not found`);
    const f = await core.packages.file(pkg.id, v.normalized, p.file);
    if (!f) throw notFound(`${p.file} not found`);
    reply.type('application/octet-stream').header('etag', `"${f.blob_digest}"`);
    // No S3 redirect here nor for PDBs below: no symbol client's behaviour on a 307 is tested.
    return sendBlob(core, reply, { digest: f.blob_digest, size: f.size });
  });

  // SSQP: `{file}/{key}/{file}`; file names and keys compare case-insensitively (clients differ in case).
  app.get('/:owner/symbols/:file/:key/:file2', async (req, reply) => {
    const p = req.params as Params;
    const owner = await ctx.ownerOf(p.owner);
    const missing = () => ctx.hidden(req.actor, owner, `${p.file} not found`);
    const file = p.file.toLowerCase();
    if (file !== p.file2.toLowerCase() || !file.endsWith('.pdb') || !/^[0-9a-f]{32}ffffffff$/i.test(p.key)) throw await missing();
    const key = `${file}/${p.key.toLowerCase()}`;
    // Debuggers send the PDB checksums the assembly records (`SymbolChecksum: SHA256:<hex>[;…]`): a PDB that
    // matches none of them is not the one the assembly was built with. Without the header, the key decides.
    const wanted = String(req.headers.symbolchecksum ?? '')
      .split(';')
      .map((c) => c.trim().toLowerCase())
      .filter((c) => /^sha256:[0-9a-f]{64}$/.test(c));
    for (const v of await core.packages.versionsWithPropertyUnder(owner.id, TYPE, SYMBOL_PROPERTY, key)) {
      const pkg = await core.packages.byId(v.package_id);
      if (!pkg || !(await core.authz.canRead(req.actor, pkg))) continue;
      if (wanted.length && !(await matchesChecksum(pkg.id, v.id, key, wanted))) continue;
      const f = (await core.packages.files(v.id)).find((x) => x.lower_name === pdbFileName(file, p.key.toLowerCase()));
      if (!f) continue;
      reply.type('application/octet-stream').header('etag', `"${f.blob_digest}"`).header('cache-control', 'private, max-age=31536000, immutable');
      return sendBlob(core, reply, { digest: f.blob_digest, size: f.size });
    }
    throw await missing();
  });
}
