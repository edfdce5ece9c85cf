import fs from 'node:fs';
import { systemActor } from '../core/auth/actor.ts';
import { generateCosignKeyPair } from '../core/signing/cosign-keys.ts';
import type { Command } from './main.ts';
import { parse, table, UsageError } from './args.ts';

const keygen: Command = async (_open, args, out) => {
  const { values } = parse(args, { 'output-prefix': { type: 'string' } }, []);
  const prefix = values['output-prefix'] ?? 'cosign';
  const password = process.env.COSIGN_PASSWORD;
  if (password === undefined) throw new UsageError('set COSIGN_PASSWORD to the passphrase that will protect the private key (cosign and skopeo ask for it)');
  for (const f of [`${prefix}.key`, `${prefix}.pub`]) if (fs.existsSync(f)) throw new UsageError(`${f} exists already`);
  const { privatePem, publicPem } = generateCosignKeyPair(password);
  fs.writeFileSync(`${prefix}.key`, privatePem, { mode: 0o600 });
  fs.writeFileSync(`${prefix}.pub`, publicPem, { mode: 0o644 });
  out(`Private key written to ${prefix}.key\nPublic key written to ${prefix}.pub`);
};

const trust: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { key: { type: 'string' } }, ['OWNER[/IMAGE]']);
  if (!values.key) throw new UsageError('--key FILE.pub is required');
  const pem = fs.readFileSync(values.key, 'utf8');
  const k = await (await open()).signing.trust(systemActor, pos[0], pem);
  out(`trusted key ${k.fingerprint} for ${pos[0]}`);
};

const require_: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { off: { type: 'boolean' } }, ['OWNER[/IMAGE]']);
  await (await open()).signing.setRequired(systemActor, pos[0], !values.off);
  out(values.off ? `${pos[0]}: signed images are no longer required` : `${pos[0]}: pulls now require an image signed by a trusted key or identity`);
};

const identity: Command = async (open, args, out) => {
  const { values, pos } = parse(args, { identity: { type: 'string' }, issuer: { type: 'string' } }, ['OWNER[/IMAGE]']);
  if (!values.identity || !values.issuer) throw new UsageError('--identity REGEXP and --issuer URL are required');
  const p = await (await open()).signing.addIdentity(systemActor, pos[0], values.identity, values.issuer);
  out(`trusted identity ${p.id}: ${p.identity} from ${p.issuer} for ${pos[0]}`);
};

const untrustIdentity: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['OWNER[/IMAGE]', 'ID']);
  if (!/^[1-9][0-9]{0,14}$/.test(pos[1])) throw new UsageError('ID is the number `wharf signing list` shows');
  await (await open()).signing.removeIdentity(systemActor, pos[0], Number(pos[1]));
  out(`${pos[0]}: identity ${pos[1]} is no longer trusted`);
};

const list: Command = async (open, args, out) => {
  const { pos } = parse(args, {}, ['OWNER[/IMAGE]']);
  const core = await open();
  const [owner, ...rest] = pos[0].split('/');
  const o = await core.identity.requireOwner(owner);
  const name = rest.length ? rest.join('/') : null;
  const [keys, identities, required] = await Promise.all([core.signing.keysAt(o.id, name), core.signing.identitiesAt(o.id, name), core.signing.requiredAt(o.id, name)]);
  out(`${pos[0]}: signed images ${required ? 'required' : 'not required'}`);
  for (const line of table(['KIND', 'ID', 'TRUSTED'], [...keys.map((k) => ['key', k.id, k.fingerprint]), ...identities.map((i) => ['identity', i.id, `${i.identity} from ${i.issuer}`])])) out(line);
};

export const signingCommands = {
  usage:
    '  wharf signing keygen [--output-prefix P]      (writes P.key and P.pub in cosign format; passphrase from COSIGN_PASSWORD)\n' +
    '  wharf signing trust OWNER[/IMAGE] --key P.pub\n' +
    '  wharf signing identity OWNER[/IMAGE] --identity REGEXP --issuer URL   (keyless: certificate identity from an OIDC issuer)\n' +
    '  wharf signing untrust-identity OWNER[/IMAGE] ID\n  wharf signing list OWNER[/IMAGE]\n  wharf signing require OWNER[/IMAGE] [--off]',
  verbs: { keygen, trust, identity, 'untrust-identity': untrustIdentity, list, require: require_ },
};
