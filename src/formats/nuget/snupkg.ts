// Reads a .snupkg (a symbol package: a zip with the .nuspec of its .nupkg, packageType SymbolsPackage, and
// portable PDBs) from a byte range of a file, with the bounds of nupkg.ts. Each .pdb is streamed into the
// blob store as its own blob while the start of it is kept to read its PDB id, so a symbol-server lookup is a
// database query, never an archive scan. Anything but PDBs and the package's own bookkeeping files is refused
// (nuget.org's rule), as is a Windows PDB. On any failure every staged blob is cancelled.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import yauzl from 'yauzl';
import type { BlobStore, StagedBlob } from '../../core/blobs/blob-store.ts';
import { invalid, tooLarge } from '../../core/errors.ts';
import { DEFAULT_NUPKG_LIMITS, listEntries, RangeReader, readEntry, type NupkgLimits } from './nupkg.ts';
import { MAX_NUSPEC_BYTES, parseNuspec, type Nuspec } from './nuspec.ts';
import { PDB_HEAD_BYTES, portablePdbId } from './pdb.ts';
import { assemblyDebugInfo, type AssemblyDebugInfo } from './pe.ts';

export interface SymbolFile {
  /** The entry's path in the .snupkg. */
  path: string;
  /** The file name (`Foo.pdb`), as a debugger asks for it (case-insensitively). */
  name: string;
  /** SSQP key: `{guid}FFFFFFFF`. */
  key: string;
  /** The 20-byte PDB id, hex (GUID, then stamp). */
  id: string;
  /** SHA-256 of the PDB with its id zeroed, hex (the PdbChecksum debug directory entry's). */
  checksum: string;
  blob: StagedBlob;
}

export interface SnupkgFacts {
  nuspec: Nuspec;
  pdbs: SymbolFile[];
}

/** Entries a .snupkg may hold besides PDBs: the .nuspec and the OPC files nuget pack writes, and a signature. */
const BOOKKEEPING = /^(?:\[Content_Types\]\.xml|_rels\/\.rels|package\/services\/metadata\/core-properties\/[^/]+\.psmdcp|\.signature\.p7s)$/i;

function openZip(file: string, offset: number, length: number): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.fromRandomAccessReader(new RangeReader(file, offset), length, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false }, (err, z) =>
      err || !z ? reject(invalid(`the upload is not a valid .snupkg (zip): ${err?.message}`)) : resolve(z),
    ),
  );
}

/**
 * Streams one PDB entry into the store. Its start is held back until PDB_HEAD_BYTES (or the end) arrived, to
 * read its id, then hashed with the id zeroed: that SHA-256 is the PDB checksum an assembly's debug directory
 * records and debuggers send as `SymbolChecksum: SHA256:<hex>`. Returns the staged blob, SSQP key and checksum.
 */
function stagePdb(zip: yauzl.ZipFile, entry: yauzl.Entry, blobs: BlobStore, maxSize: number): Promise<{ blob: StagedBlob; key: string; id: string; checksum: string }> {
  return new Promise((resolve, reject) => {
    if (entry.uncompressedSize > maxSize) return reject(tooLarge(`${entry.fileName} is larger than ${maxSize} bytes`));
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) return reject(invalid(`cannot read ${entry.fileName}: ${err?.message}`));
      const hash = createHash('sha256');
      let held: Buffer[] | null = [];
      let heldBytes = 0;
      let key = '';
      let pdbId = '';
      const release = () => {
        const head = Buffer.concat(held!);
        held = null;
        const id = portablePdbId(head.subarray(0, PDB_HEAD_BYTES), entry.fileName);
        key = id.key;
        pdbId = id.id;
        hash.update(Buffer.concat([head.subarray(0, id.offset), Buffer.alloc(20), head.subarray(id.offset + 20)]));
      };
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          try {
            if (held) {
              held.push(chunk);
              heldBytes += chunk.length;
              if (heldBytes >= PDB_HEAD_BYTES) release();
            } else hash.update(chunk);
            cb(null, chunk);
          } catch (e) {
            cb(e as Error);
          }
        },
        flush(cb) {
          try {
            if (held) release();
            cb();
          } catch (e) {
            cb(e as Error);
          }
        },
      });
      tap.on('error', () => stream.destroy());
      stream.on('error', (e) => tap.destroy(e instanceof Error && 'kind' in e ? e : invalid(`the .snupkg is corrupt: ${e.message}`)));
      blobs.put(stream.pipe(tap), { maxSize }).then((blob) => resolve({ blob, key, id: pdbId, checksum: hash.digest('hex') }), reject);
    });
  });
}

/** Inspects the .snupkg at `file` from `offset` for `length` bytes and stages its PDBs in `blobs`. */
export async function readSnupkg(file: string, offset: number, length: number, blobs: BlobStore, maxBlobSize: number, limits: NupkgLimits = DEFAULT_NUPKG_LIMITS): Promise<SnupkgFacts> {
  const zip = await openZip(file, offset, length);
  const pdbs: SymbolFile[] = [];
  try {
    // A 300 KB .snupkg declaring a 300 MiB PDB is refused here, before anything is inflated or stored.
    const entries = await listEntries(zip, length, limits, '.snupkg');
    const specs = entries.filter((e) => !e.fileName.includes('/') && e.fileName.toLowerCase().endsWith('.nuspec'));
    if (specs.length !== 1) throw invalid(`a .snupkg holds exactly one .nuspec at its root (found ${specs.length})`);
    const nuspec = parseNuspec((await readEntry(zip, specs[0], MAX_NUSPEC_BYTES)).toString('utf8').replace(/^\uFEFF/, ''), { symbols: true });
    if (!nuspec.packageTypes.some((t) => t.toLowerCase() === 'symbolspackage')) throw invalid('the .nuspec of a .snupkg must declare <packageType name="SymbolsPackage" />');
    const seen = new Set<string>();
    for (const e of entries) {
      if (e === specs[0] || e.fileName.endsWith('/') || BOOKKEEPING.test(e.fileName)) continue;
      let name: string;
      try {
        name = decodeURIComponent(e.fileName.slice(e.fileName.lastIndexOf('/') + 1));
      } catch {
        throw invalid(`${e.fileName}: bad file name`);
      }
      if (!name.toLowerCase().endsWith('.pdb')) throw invalid(`a .snupkg holds only .pdb files: ${e.fileName} is not one`);
      if (!/^[^\s/\\]{1,200}$/.test(name)) throw invalid(`${e.fileName}: bad PDB file name`);
      const { blob, key, id, checksum } = await stagePdb(zip, e, blobs, maxBlobSize);
      pdbs.push({ path: e.fileName, name, key, id, checksum, blob });
      // The same PDB copied under two frameworks is one symbol.
      const k = `${name.toLowerCase()}/${key.toLowerCase()}`;
      if (seen.has(k)) {
        await blob.cancel();
        pdbs.pop();
      }
      seen.add(k);
    }
    if (!pdbs.length) throw invalid('the .snupkg holds no .pdb file');
    return { nuspec, pdbs };
  } catch (e) {
    for (const p of pdbs) await p.blob.cancel();
    throw e;
  } finally {
    zip.close();
  }
}

/** The largest assembly whose debug directory is read (the whole entry is inflated into memory, bounded). */
export const MAX_ASSEMBLY_BYTES = 64 * 1024 * 1024;

/**
 * The debug records of every assembly (.dll, .exe) in the .nupkg at `file` (from `offset`, `length` bytes), with
 * the bounds of nupkg.ts; an assembly over MAX_ASSEMBLY_BYTES is refused (its PDBs could not be matched).
 */
export async function assembliesOf(file: string, offset: number, length: number, limits: NupkgLimits = DEFAULT_NUPKG_LIMITS): Promise<AssemblyDebugInfo[]> {
  const zip = await openZip(file, offset, length);
  try {
    const out: AssemblyDebugInfo[] = [];
    for (const e of await listEntries(zip, length, limits, '.nupkg')) {
      if (!/\.(dll|exe)$/i.test(e.fileName)) continue;
      if (e.uncompressedSize > MAX_ASSEMBLY_BYTES) throw tooLarge(`${e.fileName} is larger than ${MAX_ASSEMBLY_BYTES} bytes: its symbols cannot be checked`);
      const info = assemblyDebugInfo(await readEntry(zip, e, MAX_ASSEMBLY_BYTES));
      if (info) out.push(info);
    }
    return out;
  } finally {
    zip.close();
  }
}
