import fs from 'node:fs';
import { systemActor } from '../core/auth/actor.ts';
import { generateCosignKeyPair } from '../core/signing/cosign-keys.ts';
import type { Command } from './main.ts';
import { parse, UsageError } from './args.ts';

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
  out(values.off ? `${pos[0]}: signed images are no longer required` : `${pos[0]}: pulls now require an image signed by a trusted key`);
};

export const signingCommands = {
  usage:
    '  wharf signing keygen [--output-prefix P]      (writes P.key and P.pub in cosign format; passphrase from COSIGN_PASSWORD)\n' +
    '  wharf signing trust OWNER[/IMAGE] --key P.pub\n  wharf signing require OWNER[/IMAGE] [--off]',
  verbs: { keygen, trust, require: require_ },
};
