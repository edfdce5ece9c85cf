// The newcomer runs' reading of README.md (helpers-newcomer.ts): which fenced blocks are taken, for which format,
// in which terminal, and which are files to save.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { newcomerBlocks, README, readmeBlocks } from './helpers-newcomer.ts';

test('newcomerBlocks takes only blocks marked newcomer, with their formats, terminal and file', () => {
  const md = [
    '# t',
    '```sh',
    'npm test',
    '```',
    '```sh newcomer terminal=1',
    'npm start',
    '```',
    'text',
    '```sh newcomer',
    'TOKEN=x',
    '```',
    '````xml newcomer=maven,gradle file=~/.m2/settings.xml',
    '<settings>',
    '```',
    '</settings>',
    '````',
    '```groovy',
    "apply plugin: 'java'",
    '```',
  ].join('\n');
  assert.deepEqual(newcomerBlocks(md), [
    { line: 5, lang: 'sh', formats: ['*'], terminal: 1, file: undefined, text: 'npm start\n' },
    { line: 9, lang: 'sh', formats: ['*'], terminal: 2, file: undefined, text: 'TOKEN=x\n' },
    { line: 12, lang: 'xml', formats: ['maven', 'gradle'], terminal: 2, file: '~/.m2/settings.xml', text: '<settings>\n```\n</settings>\n' },
  ]);
});

test('README.md: one server block, and blocks of its own for each format the newcomer runs cover', () => {
  const all = newcomerBlocks(fs.readFileSync(README, 'utf8'));
  assert.equal(all.filter((b) => b.terminal === 1).length, 1);
  for (const format of ['npm', 'images', 'maven', 'gradle', 'rubygems', 'nuget']) {
    assert.ok(readmeBlocks(format).some((b) => b.formats.includes(format)), `no README block marked newcomer=${format}`);
  }
  for (const b of all) assert.ok(b.file || ['sh', 'bash'].includes(b.lang), `README.md:${b.line}: a ${b.lang} block that is no file cannot run`);
});
