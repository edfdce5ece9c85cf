// Builds a small, well-formed portable PDB for tests: a metadata root ("BSJB", version "PDB v1.00") with the
// #Pdb stream (id, entry point, no referenced type-system tables), an empty #~ table stream and the standard
// heaps, laid out as the compilers lay them out (#Pdb first); and .snupkg files holding them.
import { createHash } from 'node:crypto';
import { zipOf } from './nupkg-fixture.ts';
import { portablePdbId } from './pdb.ts';

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

/**
 * A minimal PE32 assembly built with `pdb` (a portable PDB): a debug directory with the CodeView entry naming the
 * PDB's id (GUID, age 1, stamp) and, unless `checksum` is false, the PdbChecksum entry (SHA256 of the PDB with its
 * id zeroed), as the .NET compilers write them. `checksumOf` overrides the PDB whose hash is recorded.
 */
export function buildAssemblyFor(pdb: Buffer, opts: { name?: string; checksum?: boolean; checksumOf?: Buffer } = {}): Buffer {
  const id = portablePdbId(pdb, 'fixture');
  const idBytes = Buffer.from(id.id, 'hex');
  const summed = opts.checksumOf ?? pdb;
  const summedId = portablePdbId(summed, 'fixture');
  const sha = createHash('sha256').update(Buffer.concat([summed.subarray(0, summedId.offset), Buffer.alloc(20), summed.subarray(summedId.offset + 20)])).digest();
  const codeView = Buffer.concat([Buffer.from('RSDS'), idBytes.subarray(0, 16), Buffer.from([1, 0, 0, 0]), Buffer.from(`${opts.name ?? 'Fixture.pdb'}\0`)]);
  const checksum = Buffer.concat([Buffer.from('SHA256\0'), sha]);
  const records: { type: number; major: number; minor: number; stamp: number; data: Buffer }[] = [
    { type: 2, major: 0x0100, minor: 0x504d, stamp: idBytes.readUInt32LE(16), data: codeView },
    ...(opts.checksum === false ? [] : [{ type: 19, major: 1, minor: 0, stamp: 0, data: checksum }]),
  ];
  const RAW = 0x200;
  const VA = 0x2000;
  const dirSize = records.length * 28;
  const section = Buffer.alloc(0x400);
  let dataAt = dirSize;
  records.forEach((r, i) => {
    const e = i * 28;
    section.writeUInt32LE(r.stamp, e + 4);
    section.writeUInt16LE(r.major, e + 8);
    section.writeUInt16LE(r.minor, e + 10);
    section.writeUInt32LE(r.type, e + 12);
    section.writeUInt32LE(r.data.length, e + 16);
    section.writeUInt32LE(VA + dataAt, e + 20);
    section.writeUInt32LE(RAW + dataAt, e + 24);
    r.data.copy(section, dataAt);
    dataAt += Math.ceil(r.data.length / 4) * 4;
  });
  const head = Buffer.alloc(RAW);
  head.write('MZ', 0, 'latin1');
  head.writeUInt32LE(0x80, 0x3c);
  head.write('PE\0\0', 0x80, 'latin1');
  const coff = 0x84;
  head.writeUInt16LE(0x14c, coff);
  head.writeUInt16LE(1, coff + 2);
  head.writeUInt16LE(0xe0, coff + 16);
  head.writeUInt16LE(0x2102, coff + 18);
  const opt = coff + 20;
  head.writeUInt16LE(0x10b, opt);
  head.writeUInt32LE(16, opt + 92);
  head.writeUInt32LE(VA, opt + 96 + 6 * 8);
  head.writeUInt32LE(dirSize, opt + 96 + 6 * 8 + 4);
  const sec = opt + 0xe0;
  head.write('.text', sec, 'latin1');
  head.writeUInt32LE(section.length, sec + 8);
  head.writeUInt32LE(VA, sec + 12);
  head.writeUInt32LE(section.length, sec + 16);
  head.writeUInt32LE(RAW, sec + 20);
  return Buffer.concat([head, section]);
}
