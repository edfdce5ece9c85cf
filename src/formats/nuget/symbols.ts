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
import { pdbMatches, type AssemblyDebugInfo } from './pe.ts';
import { assembliesOf, readSnupkg, type SymbolFile } from './snupkg.ts';
import { parseVersion } from './versions.ts';

export const SYMBOL_PROPERTY = 'nuget.symbol';
/** On a pushed version: the 20-byte id (hex) of a portable PDB an assembly of its .nupkg names (pe.ts). */
export const ASSEMBLY_PROPERTY = 'nuget.assembly';
/** On a pushed version: `pdbid sha256hex`, the PDB checksum an assembly records for that PDB. */
export const ASSEMBLY_CHECKSUM_PROPERTY = 'nuget.assemblychecksum';

/** The properties a .nupkg's assemblies give its version: which PDBs they name (and their checksums). */
export function assemblyProperties(assemblies: AssemblyDebugInfo[]): { name: string; value: string }[] {
  const out = new Map<string, { name: string; value: string }>();
  for (const a of assemblies) {
    for (const c of a.codeView.filter((x) => x.portable)) {
      const stamp = Buffer.alloc(4);
      stamp.writeUInt32LE(c.stamp >>> 0);
      const id = `${c.guid}${stamp.toString('hex')}`;
      out.set(`a ${id}`, { name: ASSEMBLY_PROPERTY, value: id });
      for (const sum of a.checksums.filter((x) => x.algorithm === 'SHA256')) out.set(`c ${id} ${sum.hex}`, { name: ASSEMBLY_CHECKSUM_PROPERTY, value: `${id} ${sum.hex}` });
    }
  }
  return [...out.values()];
}

/** One old-style check (reading a stored .nupkg's assemblies) at a time per process: each inflates up to its DLLs' size. */
let reading: Promise<unknown> = Promise.resolve();
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
  async function checkAgainstAssemblies(packageId: number, id: string, version: string, versionId: number, pdbs: SymbolFile[]): Promise<void> {
    const props = await core.db.selectFrom('package_properties').select(['name', 'value']).where('ref_type', '=', 'version').where('ref_id', '=', versionId)
      .where('name', 'in', [ASSEMBLY_PROPERTY, ASSEMBLY_CHECKSUM_PROPERTY]).execute();
    const named = new Set(props.filter((p) => p.name === ASSEMBLY_PROPERTY).map((p) => p.value));
    const sums = new Set(props.filter((p) => p.name === ASSEMBLY_CHECKSUM_PROPERTY).map((p) => p.value));
    const ours = props.length
      ? (p: SymbolFile) => named.has(p.id) && (![...sums].some((v) => v.startsWith(`${p.id} `)) || sums.has(`${p.id} ${p.checksum}`))
      : await matcherFromStoredNupkg(id, version, versionId);
    for (const p of pdbs) {
      if (!ours(p)) {
        throw invalid(`${p.path} is not the PDB of an assembly in ${id} ${version}: a symbol package carries the PDBs of its own package's DLLs (their debug directory names each PDB's id and checksum)`);
      }
      // Anyone can build a DLL naming any PDB id: the id belongs to the package whose assembly named it first (one
      // can learn another's id only from their published DLL, so theirs came first).
      // A DLL both packages ship (the same build) records the same checksum: the same PDB is then fine from either.
      const first = await core.db.selectFrom('package_properties').innerJoin('package_versions', 'package_versions.id', 'package_properties.ref_id').innerJoin('packages', 'packages.id', 'package_versions.package_id')
        .select(['packages.id', 'package_versions.id as version_id']).where('package_properties.ref_type', '=', 'version').where('package_properties.name', '=', ASSEMBLY_PROPERTY).where('package_properties.value', '=', p.id)
        .where('packages.owner_id', '=', (await core.db.selectFrom('packages').select('owner_id').where('id', '=', packageId).executeTakeFirstOrThrow()).owner_id)
        .orderBy('package_versions.id').limit(1).executeTakeFirst();
      if (first && first.id !== packageId) {
        const same = await core.db.selectFrom('package_properties').select('ref_id').where('ref_type', '=', 'version').where('ref_id', '=', first.version_id)
          .where('name', '=', ASSEMBLY_CHECKSUM_PROPERTY).where('value', '=', `${p.id} ${p.checksum}`).executeTakeFirst();
        if (!same) throw conflict(`${p.path}: its PDB id is named by an assembly another package published first, and this is not the PDB that assembly records; symbols for it come from that package`);
      }
    }
  }

  /** For a version pushed before assemblies were recorded at push: its stored .nupkg is read (one at a time). */
  async function matcherFromStoredNupkg(id: string, version: string, versionId: number): Promise<(p: SymbolFile) => boolean> {
    const nupkg = await core.db.selectFrom('package_files').select(['blob_digest', 'size']).where('version_id', '=', versionId).where('is_primary', '=', 1).executeTakeFirst();
    if (!nupkg) throw notFound(`${id} ${version} has no .nupkg`);
    const run = reading.then(async () => {
      const tmp = path.join(ctx.spool, `${randomUUID()}.nupkg`);
      try {
        await pipeline(await core.blobs.open(nupkg.blob_digest), fs.createWriteStream(tmp));
        return await assembliesOf(tmp, 0, nupkg.size, { ...DEFAULT_NUPKG_LIMITS, ...core.config.inflation });
      } finally {
        await fs.promises.rm(tmp, { force: true });
      }
    });
    reading = run.catch(() => {});
    const assemblies = await run;
    return (p) => assemblies.some((a) => pdbMatches(a, p.id, p.checksum));
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
        await checkAgainstAssemblies(pkg.id, pkg.name, version, row.id, facts.pdbs);
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
