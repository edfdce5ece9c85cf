// The debug directory of an assembly: its CodeView entry names the PDB (GUID, stamp), its PdbChecksum entry the
// PDB's hash; a PDB matches only the assembly it was built with.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { buildAssemblyFor, buildPortablePdb, pdbIdOf } from './pdb-fixture.ts';
import { portablePdbId } from './pdb.ts';
import { assemblyDebugInfo, pdbMatches } from './pe.ts';

const pdb = buildPortablePdb(pdbIdOf('f6727b490a39fc44878e5a2d63b6cc4b'));
const id = portablePdbId(pdb, 'a.pdb');
const sum = createHash('sha256').update(Buffer.concat([pdb.subarray(0, id.offset), Buffer.alloc(20), pdb.subarray(id.offset + 20)])).digest('hex');

test('reads the CodeView and PdbChecksum entries the compilers write', () => {
  const info = assemblyDebugInfo(buildAssemblyFor(pdb))!;
  assert.deepEqual(info.codeView, [{ guid: 'f6727b490a39fc44878e5a2d63b6cc4b', stamp: 1, portable: true }]);
  assert.deepEqual(info.checksums, [{ algorithm: 'SHA256', hex: sum }]);
});

test('a PDB matches its assembly; another id, another stamp or other content does not', () => {
  const info = assemblyDebugInfo(buildAssemblyFor(pdb))!;
  assert.equal(pdbMatches(info, id.id, sum), true);
  assert.equal(pdbMatches(info, id.id, '0'.repeat(64)), false, 'same id, other bytes');
  assert.equal(pdbMatches(info, `${id.id.slice(0, 32)}02000000`, sum), false, 'another stamp');
  assert.equal(pdbMatches(info, portablePdbId(buildPortablePdb(pdbIdOf('00'.repeat(16))), 'b.pdb').id, sum), false);
  // Without a checksum entry, the CodeView entry decides.
  assert.equal(pdbMatches(assemblyDebugInfo(buildAssemblyFor(pdb, { checksum: false }))!, id.id, '0'.repeat(64)), true);
});

test('not a PE file, or no debug directory: null', () => {
  assert.equal(assemblyDebugInfo(Buffer.from('MZ fake')), null);
  assert.equal(assemblyDebugInfo(Buffer.alloc(0)), null);
  const noDebug = buildAssemblyFor(pdb);
  noDebug.writeUInt32LE(0, 0x98 + 96 + 6 * 8); // the debug directory's RVA
  assert.equal(assemblyDebugInfo(noDebug), null);
});
