// `wharf trust add|list|remove`: trusted publishing's trust policies, as the operator sets them (the REST API and
// the package settings page do the same for people). A target is a repository (OWNER/REPO), or an owner with
// --package TYPE/NAME: the package's own policies when it exists, else the owner's policy for creating it.
import { systemActor } from '../core/auth/actor.ts';
import type { PolicyInfo, PolicyTarget } from '../core/auth/trusted-publishers.ts';
import type { Core } from '../core/core.ts';
import { formatOf, formats } from '../formats/index.ts';
import type { Command } from './main.ts';
import { parse, table, UsageError } from './args.ts';

/** The claim options, each the claim of the same name with `-` for `_`. */
const CLAIM_OPTIONS = ['repository', 'repository-owner', 'workflow-ref', 'job-workflow-ref', 'environment', 'ref', 'sub', 'project-path', 'namespace-path', 'ci-config-ref-uri'] as const;

const targetOptions = { package: { type: 'string' } } as const;

/**
 * TARGET [--package TYPE/NAME] → where policies sit: a repository; an owner; or for a package, the package itself
 * (when it exists) and then the owner's policies for creating it (which keep covering it once created).
 */
async function targetsOf(core: Core, target: string, pkgOpt: string | undefined): Promise<PolicyTarget[]> {
  const [owner, repo, ...rest] = target.split('/');
  if (rest.length || !owner) throw new UsageError(`TARGET must be OWNER/REPO or OWNER, got "${target}"`);
  if (repo !== undefined) {
    if (pkgOpt) throw new UsageError('--package goes with an OWNER target, not OWNER/REPO');
    return [{ kind: 'repo', owner, repo }];
  }
  if (!pkgOpt) return [{ kind: 'owner', owner }];
  const slash = pkgOpt.indexOf('/');
  const type = pkgOpt.slice(0, slash);
  const name = pkgOpt.slice(slash + 1);
  if (slash < 1 || !name || !formatOf(type)) throw new UsageError(`--package must be TYPE/NAME with TYPE one of ${formats.map((f) => f.type).join(', ')} (got "${pkgOpt}")`);
  const exists = await core.packages.find(owner, type, name);
  const creating: PolicyTarget = { kind: 'owner', owner, type, name: exists?.name ?? name };
  return exists ? [{ kind: 'package', owner, type, name: exists.name }, creating] : [creating];
}

/** The policies at a target; for an owner target naming a package, the owner's policies for that package only. */
async function policiesAt(core: Core, t: PolicyTarget): Promise<PolicyInfo[]> {
  const list = await core.trustedPublishers.list(systemActor, t);
  if (t.kind !== 'owner' || !t.type) return list;
  return list.filter((p) => p.package_type === t.type && p.package_name?.toLowerCase() === t.name!.toLowerCase());
}

const add: Command = async (open, args, out) => {
  const options = {
    ...targetOptions, provider: { type: 'string' }, issuer: { type: 'string' }, 'jwks-url': { type: 'string' }, claim: { type: 'string', multiple: true },
    ...Object.fromEntries(CLAIM_OPTIONS.map((o) => [o, { type: 'string' }])),
  } as const;
  const { values, pos } = parse(args, options as typeof targetOptions & Record<string, { type: 'string'; multiple?: boolean }>, ['TARGET']);
  const v = values as Record<string, string | string[] | undefined>;
  const claims: Record<string, string> = {};
  for (const o of CLAIM_OPTIONS) if (typeof v[o] === 'string') claims[o.replace(/-/g, '_')] = v[o] as string;
  for (const c of (v.claim as string[] | undefined) ?? []) {
    const eq = c.indexOf('=');
    if (eq < 1) throw new UsageError(`--claim must be NAME=PATTERN, got "${c}"`);
    claims[c.slice(0, eq)] = c.slice(eq + 1);
  }
  if (!Object.keys(claims).length) throw new UsageError('name the claims to match: --repository, --workflow-ref, --project-path, --sub … or --claim NAME=PATTERN');
  const core = await open();
  const [target] = await targetsOf(core, pos[0], v.package as string | undefined);
  if (target.kind === 'owner' && !target.type) throw new UsageError('a policy on an owner names the package it may create: --package TYPE/NAME');
  const p = await core.trustedPublishers.add(systemActor, target, { provider: v.provider as string | undefined, issuer: v.issuer as string | undefined, jwks_url: (v['jwks-url'] as string | undefined) ?? null, claims });
  out(`added trusted publisher ${p.id} (${p.provider}, ${p.issuer}) on ${describe(p)}`);
};

const list: Command = async (open, args, out, note) => {
  const { values, pos } = parse(args, targetOptions, ['TARGET']);
  const core = await open();
  const rows: PolicyInfo[] = [];
  for (const t of await targetsOf(core, pos[0], values.package)) rows.push(...(await policiesAt(core, t)));
  if (!rows.length) return note(`no trusted publishers on ${pos[0]}${values.package ? ` for ${values.package}` : ''} — add one with: wharf trust add ${pos[0]} …`);
  for (const line of table(['ID', 'PROVIDER', 'ON', 'ISSUER', 'CLAIMS'], rows.map((p) => [p.id, p.provider, describe(p), p.issuer, Object.entries(p.claims).map(([k, val]) => `${k}=${val}`).join(' ')]))) out(line);
};

const remove: Command = async (open, args, out) => {
  const { values, pos } = parse(args, targetOptions, ['TARGET', 'ID']);
  if (!/^[1-9][0-9]{0,14}$/.test(pos[1])) throw new UsageError(`ID must be a policy id (see wharf trust list), got "${pos[1]}"`);
  const core = await open();
  const id = Number(pos[1]);
  const targets = await targetsOf(core, pos[0], values.package);
  let at = targets[0];
  for (const t of targets) if ((await policiesAt(core, t)).some((p) => p.id === id)) at = t;
  await core.trustedPublishers.remove(systemActor, at, id);
  out(`removed trusted publisher ${pos[1]} (its live tokens are revoked)`);
};

/** Where a policy sits, in words. */
function describe(p: PolicyInfo): string {
  if (p.scope === 'repository') return `repository ${p.repository}`;
  if (p.scope === 'package') return `package ${p.package_type}/${p.owner}/${p.package_name}`;
  return `${p.owner}, for creating ${p.package_type}/${p.package_name}`;
}

export const trustCommands = {
  usage:
    '  wharf trust add TARGET --provider github|gitlab|generic [--issuer URL] [--jwks-url URL] CLAIMS...\n' +
    '      TARGET: OWNER/REPO (the packages linked to it), or OWNER --package TYPE/NAME (that package; one not created yet may be)\n' +
    '      CLAIMS: --repository P --repository-owner P --workflow-ref P --job-workflow-ref P --environment P --ref P --sub P (GitHub),\n' +
    '              --project-path P --namespace-path P --ci-config-ref-uri P (GitLab), --claim NAME=P (any); * in P matches anything\n' +
    '  wharf trust list TARGET [--package TYPE/NAME]   (ID PROVIDER ON ISSUER CLAIMS)\n' +
    '  wharf trust remove TARGET [--package TYPE/NAME] ID',
  notes: '  Trusted publishing: CI jobs whose OpenID Connect ID token matches a policy exchange it for a 15-minute publish token (WHARF_OIDC_ISSUERS lists the issuers accepted).',
  verbs: { add, list, remove },
};
