// Builds a small, well-formed portable PDB for tests: a metadata root ("BSJB", version "PDB v1.00") with the
// #Pdb stream (id, entry point, no referenced type-system tables), an empty #~ table stream and the standard
// heaps, laid out as the compilers lay them out (#Pdb first); and .snupkg files holding them.
import { zipOf } from './nupkg-fixture.ts';

function pad4(b: Buffer): Buffer {
  return b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b;
}

/** A portable PDB whose 20-byte id is `id` (a 16-byte GUID in its binary form, then a 4-byte stamp); `blobs` fills its #Blob heap. */
export function buildPortablePdb(id: Buffer, blobs: Buffer = Buffer.alloc(4)): Buffer {
  if (id.length !== 20) throw new Error('a PDB id is 20 bytes');
  const pdb = Buffer.concat([id, Buffer.alloc(4), Buffer.alloc(8)]); // EntryPoint 0, ReferencedTypeSystemTables 0
  const tables = Buffer.alloc(24);
  tables.writeUInt8(2, 4); // MajorVersion
  tables.writeUInt8(0, 5); // MinorVersion
  tables.writeUInt8(1, 7); // Reserved (always 1)
  const streams: [string, Buffer][] = [
    ['#Pdb', pdb],
    ['#~', tables],
    ['#Strings', Buffer.alloc(4)],
    ['#US', Buffer.alloc(4)],
    ['#GUID', Buffer.alloc(0)],
    ['#Blob', blobs],
  ];
  const version = pad4(Buffer.from('PDB v1.00\0'));
  const headerLen = 16 + version.length + 4 + streams.reduce((n, [name]) => n + 8 + pad4(Buffer.from(name + '\0')).length, 0);
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(0x424a5342, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeUInt16LE(1, 6);
  fixed.writeUInt32LE(version.length, 12);
  const flags = Buffer.alloc(4);
  flags.writeUInt16LE(streams.length, 2);
  const headers: Buffer[] = [];
  let offset = headerLen;
  for (const [name, data] of streams) {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(offset, 0);
    h.writeUInt32LE(data.length, 4);
    headers.push(h, pad4(Buffer.from(name + '\0')));
    offset += pad4(data).length;
  }
  return Buffer.concat([fixed, version, flags, ...headers, ...streams.map(([, d]) => pad4(d))]);
}

/** The id of a fixture PDB: GUID bytes from a 32-hex-digit string (binary order), stamp 1. */
export function pdbIdOf(guidBytesHex: string): Buffer {
  return Buffer.concat([Buffer.from(guidBytesHex, 'hex'), Buffer.from([1, 0, 0, 0])]);
}

/** A .snupkg as nuget pack writes it: a .nuspec with no <authors> and packageType SymbolsPackage, then `files`. */
export function buildSnupkg(id: string, version: string, files: Record<string, Buffer | string>, opts: { packageType?: string } = {}): Buffer {
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2010/07/nuspec.xsd"><metadata><id>${id}</id><version>${version}</version><description>d</description>
<packageTypes><packageType name="${opts.packageType ?? 'SymbolsPackage'}" /></packageTypes></metadata></package>`;
  return zipOf([['_rels/.rels', '<Relationships />'], [`${id}.nuspec`, nuspec], ...Object.entries(files), ['[Content_Types].xml', '<Types />']]);
}
