// The identity of a portable PDB (the debug-symbol format of .NET, a metadata root as in ECMA-335 II.24.2.1
// with a "#Pdb" stream first described in dotnet/runtime's PortablePdb-Metadata.md): just enough is read to
// find the 20-byte PDB id, whose first 16 bytes are the GUID a debugger asks a symbol server for. The parse is
// bounded: it reads only the `head` it is given (the start of the file), a bounded number of stream headers,
// and refuses anything that points outside it. Windows (MSF) PDBs are refused: a .snupkg carries portable ones.
import { invalid } from '../../core/errors.ts';

/** How much of the start of a PDB is kept for the parse: the #Pdb stream of compilers' output sits near the start. */
export const PDB_HEAD_BYTES = 64 * 1024;
const MAX_STREAMS = 32;

export interface PortablePdbId {
  /** The 20-byte PDB id, hex. */
  id: string;
  /** Where the id sits in the file (a PDB checksum is taken with those 20 bytes zeroed). */
  offset: number;
  /** The GUID (first 16 bytes) formatted as SSQP says: each integer field big-endian, lower-case hex, no dashes. */
  guid: string;
  /** The SSQP key of a portable PDB: GUID then the age FFFFFFFF (matched case-insensitively). */
  key: string;
}

/** SSQP's GUID form: the 4-, 2- and 2-byte integers (stored little-endian) in big-endian hex, then 8 bytes. */
export function ssqpGuid(bytes: Buffer): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return hex(bytes.readUInt32LE(0), 8) + hex(bytes.readUInt16LE(4), 4) + hex(bytes.readUInt16LE(6), 4) + bytes.subarray(8, 16).toString('hex');
}

/** Reads the PDB id from the start of a portable PDB; throws Invalid (naming `name`) when it is not one. */
export function portablePdbId(head: Buffer, name: string): PortablePdbId {
  const bad = (why: string) => invalid(`${name} is not a portable PDB: ${why}`);
  if (head.subarray(0, 24).toString('latin1').startsWith('Microsoft C/C++ MSF 7.00')) throw invalid(`${name} is a Windows PDB: symbol packages carry portable PDBs only`);
  if (head.length < 20 || head.readUInt32LE(0) !== 0x424a5342) throw bad('no BSJB metadata signature');
  const versionLength = head.readUInt32LE(12);
  if (versionLength > 255 || versionLength % 4) throw bad('bad version string length');
  let at = 16 + versionLength + 2; // version string, then Flags
  if (at + 2 > head.length) throw bad('truncated metadata header');
  const streams = head.readUInt16LE(at);
  at += 2;
  if (streams > MAX_STREAMS) throw bad(`more than ${MAX_STREAMS} streams`);
  for (let i = 0; i < streams; i++) {
    if (at + 8 > head.length) throw bad('truncated stream header');
    const offset = head.readUInt32LE(at);
    const size = head.readUInt32LE(at + 4);
    const nameEnd = head.indexOf(0, at + 8);
    if (nameEnd < 0) throw bad('truncated stream header');
    if (nameEnd - (at + 8) > 32) throw bad('bad stream name');
    const stream = head.subarray(at + 8, nameEnd).toString('latin1');
    at = at + 8 + Math.ceil((nameEnd - (at + 8) + 1) / 4) * 4;
    if (stream !== '#Pdb') continue;
    // #Pdb: PdbId (20 bytes), EntryPoint (4), ReferencedTypeSystemTables (8), then row counts.
    if (size < 32) throw bad('the #Pdb stream is too short');
    if (offset + 20 > head.length) throw bad(`the #Pdb stream is not within the first ${head.length} bytes`);
    const id = head.subarray(offset, offset + 20);
    const guid = ssqpGuid(id);
    return { id: id.toString('hex'), offset, guid, key: `${guid}FFFFFFFF` };
  }
  throw bad('no #Pdb stream');
}
