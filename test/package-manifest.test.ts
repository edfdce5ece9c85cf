// What `npm ci` sees in package.json and the lockfile: one truth about the Node version (every installed package
// accepts the oldest Node that package.json's engines and the README name, so npm warns of no EBADENGINE), and every
// dependency with an install script approved or denied in allowScripts (so an npm that enforces approvals still
// builds better-sqlite3's native module).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import semver from 'semver';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const installed = Object.entries(lock.packages as Record<string, { engines?: { node?: string } | string[]; hasInstallScript?: boolean; dev?: boolean }>)
  .filter(([where]) => where.startsWith('node_modules/'))
  .map(([where, p]) => ({ name: where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length), ...p }));

test('the Node floor in package.json is the README\'s, and every locked package accepts it', () => {
  const floor = semver.minVersion(pkg.engines.node)!.version;
  assert.match(fs.readFileSync('README.md', 'utf8'), new RegExp(`Needs Node\\.js ${floor.replace(/\.0$/, '').replace(/\./g, '\\.')} or newer`));
  const refusing = installed.filter((p) => p.engines && !Array.isArray(p.engines) && p.engines.node && !semver.satisfies(floor, p.engines.node)).map((p) => `${p.name} (node ${(p.engines as { node: string }).node})`);
  assert.deepEqual(refusing, [], `packages that refuse Node ${floor}`);
});

test('every package with an install script is approved or denied in allowScripts', () => {
  const withScripts = [...new Set(installed.filter((p) => p.hasInstallScript).map((p) => p.name))].sort();
  assert.ok(withScripts.includes('better-sqlite3'), 'better-sqlite3 builds a native module at install');
  const unreviewed = withScripts.filter((n) => typeof pkg.allowScripts?.[n] !== 'boolean');
  assert.deepEqual(unreviewed, []);
  assert.equal(pkg.allowScripts['better-sqlite3'], true);
});
