import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPortablePdb, pdbIdOf } from './pdb-fixture.ts';
import { portablePdbId } from './pdb.ts';

// SSQP_Key_Conventions.md's example: { 0x497B72F6, 0x390A, 0x44FC, { 0x87, 0x8E, 0x5A, 0x2D, 0x63, 0xB6, 0xCC, 0x4B } }
const EXAMPLE = 'f6727b490a39fc44878e5a2d63b6cc4b';

test('portablePdbId: the #Pdb stream id, keyed as SSQP says (GUID fields big-endian, then FFFFFFFF)', () => {
  const r = portablePdbId(buildPortablePdb(pdbIdOf(EXAMPLE)), 'Foo.pdb');
  assert.equal(r.guid, '497b72f6390a44fc878e5a2d63b6cc4b');
  assert.equal(r.key, '497b72f6390a44fc878e5a2d63b6cc4bFFFFFFFF');
  assert.equal(r.id, `${EXAMPLE}01000000`);
});

test('portablePdbId refuses Windows PDBs, non-PDBs and headers pointing outside what was read', () => {
  assert.throws(() => portablePdbId(Buffer.from('Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0'), 'a.pdb'), /Windows PDB/);
  assert.throws(() => portablePdbId(Buffer.from('MZ not a pdb at all, no'), 'a.pdb'), /BSJB/);
  const pdb = buildPortablePdb(pdbIdOf(EXAMPLE));
  assert.throws(() => portablePdbId(pdb.subarray(0, 40), 'a.pdb'), /truncated|not within/);
  const far = Buffer.from(pdb);
  far.writeUInt32LE(1 << 30, 32); // #Pdb's offset
  assert.throws(() => portablePdbId(far, 'a.pdb'), /not within/);
  const many = Buffer.from(pdb);
  many.writeUInt16LE(5000, 30); // stream count
  assert.throws(() => portablePdbId(many, 'a.pdb'), /streams/);
  const noPdb = Buffer.from(pdb);
  noPdb.write('#Pdx', 40, 'latin1');
  assert.throws(() => portablePdbId(noPdb, 'a.pdb'), /no #Pdb/);
});
