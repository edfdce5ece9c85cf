// Shared helpers for the end-to-end tests that drive the real skopeo, umoci and podman against a Wharf started
// as a child process: images built with umoci in OCI layouts, image indexes written into a layout by hand, a
// client "machine" (its own HOME, auth file and policy, so nothing from the runner's login state leaks in), and
// a recording proxy that shows which requests a client made.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { tempDir } from '../helpers/wharf.ts';
import { cleanEnv, run, type RunResult } from './helpers-npm.ts';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const hex = (digest: string) => digest.replace(/^sha256:/, '');
export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** umoci with a timeout; a non-zero exit throws with its output. */
export async function umoci(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const r = await run('umoci', args, { cwd: process.cwd(), env: cleanEnv(), timeoutMs });
  if (r.code !== 0) throw new Error(`umoci ${args.join(' ')} exited ${r.code}:\n${r.output}`);
  return r;
}

// ---- OCI layouts ------------------------------------------------------------------------------------------

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

const readIndex = (layout: string) => JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as LayoutIndex;
const writeLayoutIndex = (layout: string, idx: LayoutIndex) => fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify(idx));

/** The bytes of a blob in an OCI layout. */
export const readBlob = (layout: string, digest: string) => fs.readFileSync(path.join(layout, 'blobs/sha256', hex(digest)));
export const readJsonBlob = <T = any>(layout: string, digest: string): T => JSON.parse(readBlob(layout, digest).toString('utf8')) as T;

/** Writes a blob into the layout and returns its digest. */
export function writeBlob(layout: string, bytes: Buffer | string): string {
  const digest = sha256(bytes);
  fs.writeFileSync(path.join(layout, 'blobs/sha256', hex(digest)), bytes);
  return digest;
}

/** The descriptor a reference (`org.opencontainers.image.ref.name`) of the layout points at. */
export function refDescriptor(layout: string, ref: string): Descriptor {
  const d = readIndex(layout).manifests.find((m) => m.annotations?.[REF_NAME] === ref);
  if (!d) throw new Error(`no reference "${ref}" in ${layout}/index.json`);
  return d;
}

/** Points reference `ref` of the layout at `desc` (replacing what it pointed at). */
export function setRef(layout: string, ref: string, desc: Descriptor): void {
  const idx = readIndex(layout);
  const { platform: _p, annotations: _a, ...plain } = desc;
  idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref);
  idx.manifests.push({ ...plain, annotations: { [REF_NAME]: ref } });
  writeLayoutIndex(layout, idx);
}

export interface ImageSpec {
  /** Files to write into the image's only layer, path (relative to /) → content. */
  files?: Record<string, string>;
  /** Config labels, e.g. org.opencontainers.image.source. */
  labels?: Record<string, string>;
  architecture?: string;
  os?: string;
}

/** Builds image `ref` in the layout (created when missing) with umoci; returns its manifest descriptor. */
export async function buildImage(layout: string, ref: string, spec: ImageSpec = {}): Promise<Descriptor> {
  if (!fs.existsSync(path.join(layout, 'index.json'))) await umoci(['init', '--layout', layout]);
  const image = `${layout}:${ref}`;
  await umoci(['new', '--image', image]);
  const bundle = tempDir('wharf-oci-bundle-');
  try {
    fs.rmSync(bundle, { recursive: true, force: true });
    await umoci(['unpack', '--rootless', '--image', image, bundle]);
    for (const [file, content] of Object.entries(spec.files ?? { 'hello.txt': `hello from ${ref}\n` })) {
      const p = path.join(bundle, 'rootfs', file);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
    await umoci(['repack', '--image', image, bundle]);
  } finally {
    fs.rmSync(bundle, { recursive: true, force: true });
  }
  const config: string[] = [];
  for (const [k, v] of Object.entries(spec.labels ?? {})) config.push('--config.label', `${k}=${v}`);
  if (spec.architecture) config.push('--architecture', spec.architecture);
  if (spec.os) config.push('--os', spec.os);
  if (config.length) await umoci(['config', '--image', image, ...config]);
  return refDescriptor(layout, ref);
}

/**
 * Writes an OCI image index over the images `children` (references in the same layout), each with the platform
 * of its config, as a blob of the layout, and points reference `ref` at it. Returns the index descriptor.
 */
export function writeImageIndex(layout: string, ref: string, children: string[]): Descriptor {
  const manifests = children.map((c) => {
    const d = refDescriptor(layout, c);
    const manifest = readJsonBlob<{ config: Descriptor }>(layout, d.digest);
    const config = readJsonBlob<{ architecture: string; os: string }>(layout, manifest.config.digest);
    return { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: { architecture: config.architecture, os: config.os } };
  });
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
  const desc: Descriptor = { mediaType: MEDIA.ociIndex, digest: writeBlob(layout, bytes), size: bytes.length };
  setRef(layout, ref, desc);
  return desc;
}

/** Unpacks image `ref` of the layout with umoci and returns the content of `file` in its root filesystem. */
export async function readImageFile(layout: string, ref: string, file: string): Promise<string> {
  const bundle = tempDir('wharf-oci-unpack-');
  try {
    fs.rmSync(bundle, { recursive: true, force: true });
    await umoci(['unpack', '--rootless', '--image', `${layout}:${ref}`, bundle]);
    return fs.readFileSync(path.join(bundle, 'rootfs', file), 'utf8');
  } finally {
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}

// ---- a client machine -------------------------------------------------------------------------------------

/**
 * One person's machine for skopeo and podman: its own HOME, XDG dirs, auth file (REGISTRY_AUTH_FILE) and
 * signature policy, and no DOCKER_CONFIG or REGISTRY_AUTH_FILE from the runner.
 */
export class Machine {
  readonly dir: string;
  readonly authFile: string;
  readonly policy: string;
  readonly env: Record<string, string>;

  constructor() {
    this.dir = tempDir('wharf-oci-machine-');
    const home = path.join(this.dir, 'home');
    const runtime = path.join(this.dir, 'run');
    fs.mkdirSync(home, { recursive: true });
    fs.mkdirSync(runtime, { recursive: true, mode: 0o700 });
    this.authFile = path.join(this.dir, 'auth.json');
    // podman refuses a REGISTRY_AUTH_FILE that does not exist: start with an empty one.
    fs.writeFileSync(this.authFile, JSON.stringify({ auths: {} }));
    this.policy = path.join(this.dir, 'policy.json');
    fs.writeFileSync(this.policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const env = cleanEnv();
    for (const k of ['DOCKER_CONFIG', 'REGISTRY_AUTH_FILE', 'CONTAINERS_CONF', 'CONTAINERS_REGISTRIES_CONF', 'CONTAINERS_STORAGE_CONF', 'http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY']) delete env[k];
    this.env = { ...env, HOME: home, XDG_RUNTIME_DIR: runtime, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: path.join(home, '.local/share'), REGISTRY_AUTH_FILE: this.authFile, NO_PROXY: '*' };
  }

  /** A temp directory on this machine (removed with it). */
  mkdir(name: string): string {
    const d = path.join(this.dir, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  /** skopeo with this machine's policy and a command timeout; returns the result whatever the exit code. */
  skopeo(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? 90_000;
    return run('skopeo', ['--policy', this.policy, '--command-timeout', `${Math.floor(timeoutMs / 1000) - 5}s`, ...args], { cwd: this.dir, env: this.env, timeoutMs, stdin: opts.stdin });
  }

  /**
   * podman with its own storage under this machine (vfs, as root, no daemon), file events and cgroupfs, so that it
   * needs neither systemd nor the host's image store; returns the result whatever the exit code.
   */
  podman(args: string[], opts: { stdin?: string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
    const storage = ['--root', path.join(this.dir, 'podman/root'), '--runroot', path.join(this.dir, 'podman/runroot'), '--storage-driver', 'vfs'];
    const quiet = ['--events-backend', 'file', '--cgroup-manager', 'cgroupfs', '--tmpdir', path.join(this.dir, 'podman/tmp')];
    return run('podman', [...storage, ...quiet, ...args], { cwd: opts.cwd ?? this.dir, env: { ...this.env, TMPDIR: this.mkdir('tmp') }, timeoutMs: opts.timeoutMs ?? 120_000, stdin: opts.stdin });
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Asserts a client command succeeded, showing its output when it did not. */
export function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed with exit code ${r.code}:\n${r.output}`);
  return r;
}

/** Asserts a client command failed, showing its output when it did not. */
export function fails(r: RunResult, what: string): RunResult {
  if (r.code === 0) throw new Error(`${what} succeeded, but it should have failed:\n${r.output}`);
  return r;
}

export function parseJson<T = any>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON:\n${r.output}`);
  }
}

// ---- a recording proxy ------------------------------------------------------------------------------------

export interface Exchange {
  method: string;
  url: string;
  status: number;
  auth: 'none' | 'basic' | 'bearer' | 'other';
}

/** An HTTP proxy in front of the server that records each request's method, URL, status and kind of credentials. */
export class RecordingProxy {
  readonly log: Exchange[] = [];
  private server?: http.Server;
  url = '';
  port = 0;

  constructor(private readonly target: string) {}

  async start(): Promise<this> {
    const target = new URL(this.target);
    this.server = http.createServer((req, res) => {
      const a = String(req.headers.authorization ?? '');
      const auth: Exchange['auth'] = !a ? 'none' : /^basic /i.test(a) ? 'basic' : /^bearer /i.test(a) ? 'bearer' : 'other';
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        this.log.push({ method: req.method!, url: req.url!, status: r.statusCode!, auth });
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      up.on('error', (e) => {
        this.log.push({ method: req.method!, url: req.url!, status: 502, auth });
        res.destroy(e);
      });
      req.pipe(up);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** The log as lines, for failure messages. */
  dump(): string {
    return this.log.map((e) => `${e.method} ${e.url} → ${e.status} (${e.auth})`).join('\n');
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
