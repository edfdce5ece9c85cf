// GitHub's `package` webhook payload, built from the model and each format's description of itself, so that
// receivers written for GitHub work unchanged. Built inside the change's transaction (see core/events), so it
// reads through the transaction's handle only.
import type { Core } from '../core/core.ts';
import type { PackageEvent } from '../core/events/events.ts';
import { Identity } from '../core/identity/identity.ts';
import { Packages } from '../core/model/packages.ts';
import { UNCACHED } from '../db/changes.ts';
import type { PayloadBuilder } from '../core/events/webhooks.ts';
import { formatOf } from '../formats/index.ts';
import { ownerJson, repoJson } from './rest/common.ts';

const ACTIONS: Partial<Record<PackageEvent['type'], string>> = {
  'version.published': 'published',
  'version.updated': 'updated',
  'tag.set': 'updated',
  'tag.removed': 'updated',
  'version.deleted': 'deleted',
  'version.restored': 'restored',
  'version.promoted': 'promoted',
  'package.deleted': 'deleted',
  'package.restored': 'restored',
};

export function webhookPayloads(core: Core): PayloadBuilder {
  const base = () => core.config.baseUrl ?? `http://localhost:${core.config.port}`;
  return async (e, db) => {
    const action = ACTIONS[e.type];
    if (!action) return null;
    const packages = new Packages(db, UNCACHED); // inside the change's transaction: no cache
    const identity = new Identity(db, core.authz);
    const pkg = await packages.byId(e.packageId);
    if (!pkg) return null;
    const b = base();
    const fmt = formatOf(pkg.type);
    const meta = JSON.parse(pkg.metadata) as { description?: string };
    const repo = pkg.repository_id != null ? await identity.repoById(pkg.repository_id) : undefined;
    const htmlUrl = `${b}/${pkg.owner_name}/-/packages/${pkg.type}/${encodeURIComponent(pkg.name)}`;
    let versionId = 'versionId' in e ? e.versionId : undefined;
    if (versionId === undefined && 'tag' in e) versionId = (await packages.tags(pkg.id)).find((t) => t.name === e.tag)?.version_id;
    const v = versionId !== undefined ? await packages.versionById(versionId) : undefined;
    let package_version = null;
    if (v) {
      const [files, tags] = await Promise.all([packages.files(v.id), packages.tags(pkg.id)]);
      const vtags = tags.filter((t) => t.version_id === v.id).map((t) => t.name);
      package_version = {
        id: v.id,
        version: v.version,
        name: v.version,
        description: meta.description ?? '',
        html_url: `${htmlUrl}/${encodeURIComponent(v.version)}`,
        created_at: v.created_at,
        updated_at: v.updated_at,
        ...(v.deleted_at ? { deleted_at: v.deleted_at } : {}),
        metadata: fmt?.versionMetadata?.(v, vtags) ?? {},
        tags: vtags,
        installation_command: fmt?.describe(pkg, v.version, b, vtags, files.map((f) => f.name)).install ?? '',
        package_files: files.map((f) => ({
          id: f.id, name: f.name, size: f.size, content_type: f.content_type, state: 'uploaded',
          sha256: f.blob_digest.replace(/^sha256:/, ''), created_at: f.created_at, updated_at: f.created_at,
        })),
        // Wharf's addition: where a `promoted` version was copied to (another registry's URL, or OWNER/NAME here).
        ...(e.type === 'version.promoted' ? { promoted_to: { target: e.promotion.target, url: e.promotion.url } } : {}),
        ...(pkg.type === 'container' ? { container_metadata: { tag: { name: 'tag' in e ? e.tag : (vtags[0] ?? ''), digest: v.version } } } : {}),
      };
    }
    const owner = ownerJson({ id: pkg.owner_id, name: pkg.owner_name, kind: pkg.owner_kind }, b);
    const payload = {
      action,
      package: {
        id: pkg.id,
        name: pkg.name,
        namespace: pkg.owner_name,
        description: meta.description ?? null,
        ecosystem: pkg.type === 'container' ? 'CONTAINER' : pkg.type,
        package_type: pkg.type,
        html_url: htmlUrl,
        created_at: pkg.created_at,
        updated_at: pkg.updated_at,
        owner,
        package_version,
        registry: { about_url: `${b}/`, name: 'Wharf', type: pkg.type, url: `${b}${fmt?.prefix ?? ''}`, vendor: 'Wharf' },
      },
      repository: repo ? repoJson(repo, repo.owner_name, pkg.owner_kind, b) : null,
      sender: e.actor ? { login: e.actor, type: e.actor.startsWith('job:') ? 'Bot' : 'User' } : null,
    };
    return { action, ownerId: pkg.owner_id, repositoryId: pkg.repository_id, payload };
  };
}
