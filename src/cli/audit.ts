// `wharf audit`: the audit log from the command line, newest first; site-wide unless narrowed to an owner's log
// (`--owner`) or to what a user did or had done to them (`--user`).
import { parsePhrase } from '../core/audit/audit.ts';
import { isWharfError } from '../core/errors.ts';
import { auditEntryJson } from '../http/rest/audit.ts';
import type { Command } from './main.ts';
import { parse, table, UsageError } from './args.ts';

const list: Command = async (open, args, out, note) => {
  const { values } = parse(args, { owner: { type: 'string' }, user: { type: 'string' }, action: { type: 'string' }, phrase: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, []);
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new UsageError('--limit must be a whole number from 1 to 10000');
  let filter;
  try {
    filter = parsePhrase([values.phrase ?? '', values.action ? `action:${values.action}` : ''].join(' '));
  } catch (e) {
    if (isWharfError(e)) throw new UsageError(e.message);
    throw e;
  }
  const core = await open();
  const ownerId = values.owner !== undefined ? (await core.identity.requireOwner(values.owner)).id : undefined;
  const relatedTo = values.user !== undefined ? (await core.identity.requireUser(values.user)).id : undefined;
  const { entries } = await core.audit.list({ ownerId, relatedTo, filter, limit });
  if (!entries.length) return note('no audit entries match');
  if (values.json) {
    for (const r of entries) out(JSON.stringify(auditEntryJson(r)));
    return;
  }
  const rows = entries.map((r) => [
    r.created_at, r.action, r.actor_name ?? (r.credential === 'system' ? 'system' : null), r.credential, r.client_ip, r.owner_name,
    r.target ?? r.user_name, r.details === '{}' ? null : r.details,
  ]);
  for (const l of table(['TIME', 'ACTION', 'ACTOR', 'CREDENTIAL', 'CLIENT', 'OWNER', 'TARGET', 'DETAILS'], rows)) out(l);
};

export const auditCommands = {
  usage:
    '  wharf audit [--owner NAME] [--user NAME] [--action ACTION|CATEGORY] [--phrase "actor:alice created:>=2026-01-01"] [--limit 50] [--json]\n' +
    '      (newest first: TIME ACTION ACTOR CREDENTIAL CLIENT OWNER TARGET DETAILS; --json: one object per line, no header)',
  verbs: { list },
};
