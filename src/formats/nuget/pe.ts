// What a .NET assembly (a PE/COFF file, ECMA-335 II.25 and the PE format's debug directory) says about its
// symbols: the CodeView entries naming the PDB built with it (its GUID, and for a portable PDB the stamp that
// completes the 20-byte PDB id) and the PdbChecksum entries (the PDB's hash). A symbol package's PDBs are
// accepted only for assemblies of the same package (symbols.ts), as nuget.org does, so nobody can serve their own
// PDB under another package's symbol key. The parse is bounded: it reads only `file`, a bounded number of
// sections and debug entries, and ignores whatever points outside the file.

/** The CodeView record of a PDB: RSDS signature, GUID, age, path (PE format, "Debug Type" IMAGE_DEBUG_TYPE_CODEVIEW). */
export interface CodeViewEntry {
  /** The GUID's 16 bytes as stored (the first 16 bytes of a portable PDB's id), hex. */
  guid: string;
  /** The debug directory entry's TimeDateStamp: a portable PDB's id ends with it. */
  stamp: number;
  /** Whether the entry names a portable PDB (MinorVersion 0x504d, "PM"). */
  portable: boolean;
}

export interface AssemblyDebugInfo {
  codeView: CodeViewEntry[];
  /** PdbChecksum entries: the algorithm as named (`SHA256`) and the PDB's hash with its id zeroed, hex. */
  checksums: { algorithm: string; hex: string }[];
}

const MAX_SECTIONS = 96;
const MAX_DEBUG_ENTRIES = 32;
const DEBUG_CODEVIEW = 2;
const DEBUG_PDBCHECKSUM = 19;

/** The debug records of the PE file `file`; null when it is not a PE file or has no debug directory. */
export function assemblyDebugInfo(file: Buffer): AssemblyDebugInfo | null {
  const u16 = (at: number) => (at >= 0 && at + 2 <= file.length ? file.readUInt16LE(at) : null);
  const u32 = (at: number) => (at >= 0 && at + 4 <= file.length ? file.readUInt32LE(at) : null);
  if (u16(0) !== 0x5a4d) return null; // "MZ"
  const pe = u32(0x3c);
  if (pe === null || u32(pe) !== 0x00004550) return null; // "PE\0\0"
  const coff = pe + 4;
  const sections = u16(coff + 2);
  const optSize = u16(coff + 16);
  if (sections === null || optSize === null || sections > MAX_SECTIONS) return null;
  const opt = coff + 20;
  const magic = u16(opt);
  // The data directories: PE32 (0x10b) at 96, PE32+ (0x20b) at 112; the debug directory is the seventh.
  const dirs = magic === 0x10b ? opt + 96 : magic === 0x20b ? opt + 112 : null;
  if (dirs === null) return null;
  const count = u32(dirs - 4);
  if (count === null || count < 7 || dirs + 7 * 8 > opt + optSize) return null;
  const debugRva = u32(dirs + 6 * 8);
  const debugSize = u32(dirs + 6 * 8 + 4);
  if (!debugRva || !debugSize) return null;
  // The directory's RVA to a file offset, through the section that holds it.
  const table = opt + optSize;
  let debugAt: number | null = null;
  for (let i = 0; i < sections; i++) {
    const s = table + i * 40;
    const vsize = u32(s + 8);
    const va = u32(s + 12);
    const rawSize = u32(s + 16);
    const raw = u32(s + 20);
    if (vsize === null || va === null || rawSize === null || raw === null) return null;
    if (debugRva >= va && debugRva < va + Math.max(vsize, rawSize)) {
      debugAt = raw + (debugRva - va);
      break;
    }
  }
  if (debugAt === null) return null;
  const info: AssemblyDebugInfo = { codeView: [], checksums: [] };
  const entries = Math.min(Math.floor(debugSize / 28), MAX_DEBUG_ENTRIES);
  for (let i = 0; i < entries; i++) {
    const e = debugAt + i * 28;
    const stamp = u32(e + 4);
    const minor = u16(e + 10);
    const type = u32(e + 12);
    const size = u32(e + 16);
    const data = u32(e + 24); // PointerToRawData: a file offset
    if (stamp === null || minor === null || type === null || size === null || data === null) break;
    if (data + size > file.length) continue;
    const body = file.subarray(data, data + size);
    if (type === DEBUG_CODEVIEW && size >= 24 && body.readUInt32LE(0) === 0x53445352) { // "RSDS"
      info.codeView.push({ guid: body.subarray(4, 20).toString('hex'), stamp, portable: minor === 0x504d });
    } else if (type === DEBUG_PDBCHECKSUM) {
      const nul = body.indexOf(0);
      if (nul > 0 && nul < 32 && nul + 1 < body.length) info.checksums.push({ algorithm: body.subarray(0, nul).toString('latin1').toUpperCase(), hex: body.subarray(nul + 1).toString('hex') });
    }
  }
  return info;
}

/**
 * Whether the PDB whose 20-byte id is `pdbId` (hex) and whose checksum (SHA-256 with the id zeroed) is `sha256`
 * was built with the assembly `info` describes: a CodeView entry with its GUID (and, for a portable PDB, its
 * stamp), and, when the assembly records PDB checksums, a SHA-256 one equal to the PDB's.
 */
export function pdbMatches(info: AssemblyDebugInfo, pdbId: string, sha256: string): boolean {
  const guid = pdbId.slice(0, 32).toLowerCase();
  const stamp = Buffer.from(pdbId.slice(32, 40), 'hex').readUInt32LE(0);
  if (!info.codeView.some((c) => c.guid === guid && (!c.portable || c.stamp === stamp))) return false;
  // Only SHA-256 is computed here (the compilers' default); an assembly recording only other algorithms is
  // matched by its CodeView entry alone.
  const sums = info.checksums.filter((c) => c.algorithm === 'SHA256');
  return !sums.length || sums.some((c) => c.hex === sha256.toLowerCase());
}
