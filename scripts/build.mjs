// Compiles the server (src/main.ts and everything it imports) into JavaScript under dist/, which `npm start` runs
// (`node dist/main.js`): no TypeScript is transpiled at start (`prestart` runs this). It rebuilds only when a
// source file, this script, package.json or the checkout's location changed since the last build (a hash kept in
// dist/.stamp), so a start with nothing changed costs one hash of src/ (tens of ms). dist/ is never committed.
//
// One bundle, split where the sources import dynamically (the S3 store and node-postgres load only when
// configured). Each build goes to its own folder, dist/build-HASH/, and dist/main.js, a one-line module importing
// it, is replaced last by a rename: several processes may build at once (tests) and a start never sees half a
// build. Dependencies are bundled, but for those in EXTERNAL. The few modules that find files beside
// themselves (`import.meta.dirname`: the web UI's static files, docs/) get their own folder back.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'main.js');
const STAMP = path.join(DIST, '.stamp');

/** Packages left in node_modules (the lockfile is in the build's hash, so a changed dependency rebuilds). */
const EXTERNAL = ['better-sqlite3', 'pg', 'pg-native', 'pg-cloudflare', '@aws-sdk/*', '@smithy/*', 'prom-client', 'esbuild', 'tsx', 'playwright-core'];

/** A hash over everything the bundle is made of. */
function sourceHash() {
  const h = crypto.createHash('sha256');
  h.update(ROOT);
  for (const f of [path.join(ROOT, 'package.json'), path.join(ROOT, 'package-lock.json'), path.join(ROOT, 'tsconfig.json'), import.meta.filename]) {
    if (fs.existsSync(f)) h.update(fs.readFileSync(f));
  }
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs|json)$/.test(e.name) && !e.name.endsWith('.test.ts')) h.update(p).update('\0').update(fs.readFileSync(p));
    }
  };
  walk(path.join(ROOT, 'src'));
  return h.digest('hex');
}

/** Builds dist/main.js unless it is up to date; returns whether it built. */
export async function build({ force = false } = {}) {
  const hash = sourceHash();
  if (!force && fs.existsSync(OUT) && fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8') === hash) return false;
  const esbuild = await import('esbuild');
  const srcDir = path.join(ROOT, 'src');
  const name = `build-${hash.slice(0, 16)}`;
  const outdir = path.join(DIST, name);
  const tmpdir = `${outdir}.${process.pid}.tmp`;
  fs.mkdirSync(DIST, { recursive: true });
  fs.rmSync(tmpdir, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: [path.join(srcDir, 'main.ts')],
    outdir: tmpdir,
    entryNames: 'main',
    chunkNames: 'chunk-[hash]',
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Dependencies are bundled too: resolving and loading some 400 files of node_modules one by one was most of
    // the start-up time. Left outside: the native module, and those loaded only when configured (PostgreSQL,
    // S3) or only by tooling.
    external: EXTERNAL,
    logLevel: 'warning',
    // CommonJS dependencies inside an ES module bundle still call require() for Node's built-ins.
    banner: { js: "import __wharfPath from 'node:path'; import { createRequire as __wharfCreateRequire } from 'node:module'; const require = __wharfCreateRequire(import.meta.url);" },
    plugins: [{
      name: 'source-dirname',
      setup(b) {
        b.onLoad({ filter: /\.ts$/ }, async (args) => {
          let text = await fs.promises.readFile(args.path, 'utf8');
          if (text.includes('import.meta.dirname')) {
            // The module's own folder, relative to the build's folder so that the checkout can move.
            const rel = path.relative(outdir, path.dirname(args.path)).split(path.sep).join('/');
            text = text.replaceAll('import.meta.dirname', `__wharfPath.join(import.meta.dirname, ${JSON.stringify(rel)})`);
          }
          return { contents: text, loader: 'ts' };
        });
      },
    }],
  });
  try {
    fs.renameSync(tmpdir, outdir);
  } catch (e) {
    if (!['ENOTEMPTY', 'EEXIST'].includes(e.code)) throw e;
    fs.rmSync(tmpdir, { recursive: true, force: true }); // another process built the same sources first
  }
  const swap = (file, text) => {
    fs.writeFileSync(`${file}.${process.pid}.tmp`, text);
    fs.renameSync(`${file}.${process.pid}.tmp`, file);
  };
  swap(OUT, `// Built by scripts/build.mjs from src/ (${name}); do not edit.\nimport './${name}/main.js';\n`);
  swap(STAMP, hash);
  // Earlier builds: removed once they are an hour old (a server started from one may still be loading chunks).
  for (const e of fs.readdirSync(DIST)) {
    if (!e.startsWith('build-') || e === name) continue;
    const p = path.join(DIST, e);
    if (Date.now() - fs.statSync(p).mtimeMs > 3600_000) fs.rmSync(p, { recursive: true, force: true });
  }
  return true;
}

if (import.meta.filename === path.resolve(process.argv[1] ?? '')) {
  const t0 = performance.now();
  const built = await build({ force: process.argv.includes('--force') });
  if (built && process.argv.includes('--verbose')) console.error(`built dist/main.js in ${(performance.now() - t0).toFixed(0)} ms`);
}
