// The tabs of an owner's settings (members of organizations, webhooks, signing, audit log) and of a
// repository's (access, webhooks).
import type { Owner } from '../../db/tables.ts';
import { html, seg, type Html } from '../html.ts';

export type OwnerTab = 'members' | 'hooks' | 'signing' | 'retention' | 'audit' | 'usage';

export function settingsNav(owner: Pick<Owner, 'name' | 'kind'>, current: OwnerTab): Html {
  const base = `/${seg(owner.name)}/-/settings`;
  const tabs: [OwnerTab, string, string][] = [
    ...(owner.kind === 'org' ? [['members', base, 'Members and roles'] as [OwnerTab, string, string]] : []),
    ['hooks', `${base}/hooks`, 'Webhooks'],
    ['signing', `${base}/signing`, 'Signing'],
    ['retention', `${base}/retention`, 'Retention'],
    // A user's own log (/-/settings/audit) also has what was done to their account; an org's is the org's.
    ['audit', owner.kind === 'org' ? `${base}/audit` : '/-/settings/audit', 'Audit log'],
    ['usage', `${base}/usage`, 'Storage'],
  ];
  return html`<nav class="chips" aria-label="Settings">${tabs.map(([t, href, text]) => html`<a href="${href}"${t === current ? html` aria-current="page"` : ''}>${text}</a>`)}</nav>`;
}

export type RepoTab = 'access' | 'hooks';

/** The tabs of a repository's settings: visibility and collaborators, webhooks. */
export function repoSettingsNav(repo: { owner_name: string; name: string }, current: RepoTab): Html {
  const base = `/${seg(repo.owner_name)}/${seg(repo.name)}/-/settings`;
  const tabs: [RepoTab, string, string][] = [
    ['access', `${base}/access`, 'Access'],
    ['hooks', `${base}/hooks`, 'Webhooks'],
  ];
  return html`<nav class="chips" aria-label="Repository settings">${tabs.map(([t, href, text]) => html`<a href="${href}"${t === current ? html` aria-current="page"` : ''}>${text}</a>`)}</nav>`;
}
