import assert from 'node:assert/strict';
import { test } from 'node:test';
import { artifactMetadata, lastUpdatedOf, snapshotMetadata } from './maven-metadata.ts';

test('artifactMetadata: latest is the newest version, release the newest non-SNAPSHOT', () => {
  const xml = artifactMetadata({ groupId: 'g', artifactId: 'a', versions: ['1.0', '1.1', '2.0-SNAPSHOT'], lastUpdated: lastUpdatedOf('2026-11-22T19:38:12.123Z') });
  assert.match(xml, /<latest>2\.0-SNAPSHOT<\/latest>\s*<release>1\.1<\/release>/);
  assert.match(xml, /<lastUpdated>20261122193812<\/lastUpdated>/);
});

test('snapshotMetadata: the newest build, and the newest value per classifier and extension', () => {
  const files = ['a-1.0-20261122.100000-1.jar', 'a-1.0-20261122.100000-1.pom', 'a-1.0-20261122.110000-2.jar', 'a-1.0-20261122.110000-2-sources.jar', 'not-ours.txt'].map((name) => ({ name, createdAt: '2026-11-22T11:00:00Z' }));
  const xml = snapshotMetadata({ groupId: 'g', artifactId: 'a', version: '1.0-SNAPSHOT', files });
  assert.match(xml, /<timestamp>20261122\.110000<\/timestamp>\s*<buildNumber>2<\/buildNumber>/);
  assert.match(xml, /<extension>jar<\/extension>\s*<value>1\.0-20261122\.110000-2<\/value>/);
  assert.match(xml, /<extension>pom<\/extension>\s*<value>1\.0-20261122\.100000-1<\/value>/);
  assert.match(xml, /<classifier>sources<\/classifier>/);
  assert.doesNotMatch(xml, /not-ours/);
});
