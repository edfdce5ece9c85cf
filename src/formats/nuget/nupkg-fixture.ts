// Builds small .nupkg files (zip, deflated) for tests, with any entries, including hostile ones.
import { crc32, deflateRawSync } from 'node:zlib';

export interface FixturePackage {
  id: string;
  version: string;
  description?: string;
  authors?: string;
  /** Raw XML inside <metadata> after the basics. */
  extra?: string;
  deps?: [string, string][];
  /** Extra entries, name → content. */
  files?: Record<string, string | Buffer>;
  /** The bytes of lib/net6.0/ID.dll (default: not a real assembly); see pdb-fixture.ts's buildAssemblyFor. */
  dll?: Buffer;
}

/** A zip of `entries` (name → content), deflated. */
export function zipOf(entries: [string, string | Buffer][]): Buffer {
  return zipPacked(
    entries.map(([name, content]) => {
      const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
      return { name, packed: deflateRawSync(data), size: data.length, crc: crc32(data) };
    }),
  );
}

/** A zip of entries already deflated (`packed`), each declaring its inflated `size` and `crc` (for bombs). */
export function zipPacked(entries: { name: string; packed: Buffer; size: number; crc: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, packed, size, crc } of entries) {
    const data = { length: size };
    const fname = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fname.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fname.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fname, packed);
    centrals.push(central, fname);
    offset += local.length + fname.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export function nuspecOf(p: FixturePackage): string {
  const deps = p.deps?.length ? `<dependencies><group targetFramework="net6.0">${p.deps.map(([id, v]) => `<dependency id="${id}" version="${v}" />`).join('')}</group></dependencies>` : '';
  return `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
<id>${p.id}</id><version>${p.version}</version><authors>${p.authors ?? 'alice'}</authors><description>${p.description ?? `The ${p.id} package`}</description>${p.extra ?? ''}${deps}
</metadata></package>`;
}

/** A .nupkg with a .nuspec at its root and `lib/net6.0/ID.dll`. */
export function buildNupkg(p: FixturePackage): Buffer {
  return zipOf([[`${p.id}.nuspec`, nuspecOf(p)], [`lib/net6.0/${p.id}.dll`, p.dll ?? 'MZ fake'], ...Object.entries(p.files ?? {})]);
}
