// The guard against server-side request forgery for webhooks: a hook may not reach loopback, link-local,
// private or otherwise special addresses, unless a site admin allowed the host or range (WHARF_WEBHOOK_ALLOWED_HOSTS
// or the webhook_allowlist table, instance-wide or for one owner). It is applied twice: when a hook is created or
// its URL changed (`checkTarget`, so a hook to 169.254.169.254 never exists), and to the address actually connected
// to at delivery (a custom DNS lookup), so DNS rebinding and redirects to private addresses are refused too.
// Messages name the host the user typed, never an address a name resolved to: that would tell anyone who may create
// a hook what internal names resolve to.
import dns from 'node:dns';
import net from 'node:net';

// IANA's special-purpose registries, and ranges that carry an IPv4 address inside an IPv6 one. IPv4-mapped
// addresses (::ffff:a.b.c.d) need no entry: net.BlockList checks them against the IPv4 ranges.
const SPECIAL_V4 = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const;
const SPECIAL_V6 = [
  ['::', 96], // unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
  ['64:ff9b::', 96], ['64:ff9b:1::', 48], // NAT64: reaches any IPv4 address through a translator
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments, Teredo (2001::/32, carries an IPv4 address) among them
  ['2001:db8::', 32], ['3fff::', 20], // documentation
  ['2002::', 16], // 6to4: carries an IPv4 address
  ['5f00::', 16], // SRv6 segment identifiers
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const;

const special = new net.BlockList();
for (const [a, p] of SPECIAL_V4) special.addSubnet(a, p, 'ipv4');
for (const [a, p] of SPECIAL_V6) special.addSubnet(a, p, 'ipv6');

/** The one message for a refused target at delivery: which address a name resolved to stays in the server log. */
export const BLOCKED_MESSAGE = 'the target address is not allowed';

/** True for addresses a webhook may not reach by default (anything that is not an IP address counts as one). */
export function isSpecialAddress(ip: string): boolean {
  const family = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : null;
  if (!family) return true;
  return special.check(ip, family);
}

/** A URL's host as an address literal (brackets of IPv6 removed), or null for a host name. */
export function addressLiteral(hostname: string): string | null {
  const h = hostname.replace(/^\[|\]$/g, '');
  return net.isIP(h) ? h : null;
}

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * An allow-list entry in its one canonical spelling: an IP address, a CIDR (`10.0.0.0/8`, `fd00::/8`), a host name
 * (`hooks.internal`) or every name under a domain (`*.hooks.internal`). Throws a message for anything else,
 * including IPv4 spellings a URL parser would read as another address (`127.1`, `0x7f.0.0.1`): write them out.
 */
export function normalizePattern(input: string): string {
  const p = input.trim().toLowerCase().replace(/^\[|\]$/g, '');
  const slash = p.indexOf('/');
  if (slash >= 0) {
    const addr = p.slice(0, slash).replace(/^\[|\]$/g, '');
    const bits = p.slice(slash + 1);
    const family = net.isIP(addr);
    const max = family === 4 ? 32 : 128;
    if (!family || !/^[0-9]{1,3}$/.test(bits) || Number(bits) > max) throw new Error(`"${input}" is not a CIDR range (like 10.0.0.0/8 or fd00::/8)`);
    return `${addr}/${Number(bits)}`;
  }
  if (net.isIP(p)) return p;
  const wildcard = p.startsWith('*.');
  const name = (wildcard ? p.slice(2) : p).replace(/\.$/, '');
  // A name whose last label is a number is an IPv4 spelling (a URL reads "127.1" as 127.0.0.1), not a host name.
  const last = name.split('.').pop()!;
  if (!HOST_NAME.test(name) || /^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/.test(last)) {
    throw new Error(`"${input}" is not a host name, IP address or CIDR range (write IPv4 addresses as four decimal numbers)`);
  }
  return wildcard ? `*.${name}` : name;
}

export class AddressPolicy {
  private readonly hosts = new Set<string>();
  private readonly domains: string[] = [];
  private readonly ranges = new net.BlockList();

  /** `allowed`: host names, `*.domain`s, IP addresses or CIDRs (`127.0.0.1`, `10.0.0.0/8`, `hooks.internal`). */
  constructor(allowed: string[]) {
    for (const entry of allowed) {
      const [addr, bits] = entry.trim().replace(/^\[|\]$/g, '').split('/');
      const family = net.isIPv4(addr) ? 'ipv4' : net.isIPv6(addr) ? 'ipv6' : null;
      if (family) this.ranges.addSubnet(addr, bits ? Number(bits) : family === 'ipv4' ? 32 : 128, family);
      else if (addr.startsWith('*.')) this.domains.push(addr.slice(1).toLowerCase().replace(/\.$/, ''));
      else this.hosts.add(addr.toLowerCase().replace(/\.$/, ''));
    }
  }

  /** Is this host name allowed whatever it resolves to? */
  allowsName(hostname: string): boolean {
    const h = hostname.toLowerCase().replace(/\.$/, '');
    return this.hosts.has(h) || this.domains.some((d) => h.endsWith(d));
  }

  /** May a hook connect to `ip`, reached through `hostname`? */
  allows(hostname: string, ip: string): boolean {
    if (this.allowsName(hostname)) return true;
    const family = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : null;
    if (family && this.ranges.check(ip, family)) return true;
    return !isSpecialAddress(ip);
  }

  /**
   * Whether a hook may be created for `url`'s host: an address literal (in any spelling the URL parser accepts:
   * `2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`) is checked as the address it is; a host name is resolved, and
   * refused when any address it resolves to is not allowed. A name that does not resolve (or not within
   * `timeoutMs`) is accepted: it may be created before its DNS record, and it is checked again on every delivery.
   */
  async checkTarget(url: URL, opts: { resolve?: typeof resolveAll; timeoutMs?: number } = {}): Promise<'allowed' | 'refused' | 'unresolved'> {
    const literal = addressLiteral(url.hostname);
    if (literal) return this.allows(literal, literal) ? 'allowed' : 'refused';
    if (this.allowsName(url.hostname)) return 'allowed';
    // RFC 6761: localhost and names under it are loopback, whether or not this resolver knows them ("localhost.").
    const loopback = /(^|\.)localhost\.?$/.test(url.hostname);
    const addresses = loopback ? ['127.0.0.1', '::1'] : await (opts.resolve ?? resolveAll)(url.hostname, opts.timeoutMs ?? 2000);
    if (!addresses?.length) return 'unresolved';
    return addresses.every((a) => this.allows(url.hostname, a)) ? 'allowed' : 'refused';
  }

  /** A `lookup` for http.request that resolves, then refuses addresses the policy does not allow. */
  lookup = (hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const ok = (addresses as dns.LookupAddress[]).filter((a) => this.allows(hostname, a.address));
      if (!ok.length) return callback(blocked(), '', 0);
      if (options.all) return callback(null, ok);
      return callback(null, ok[0].address, ok[0].family);
    });
  };
}

/** The error a refused connection fails with (code EWEBHOOKBLOCKED); it names no address. */
export function blocked(): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(BLOCKED_MESSAGE);
  e.code = 'EWEBHOOKBLOCKED';
  return e;
}

/** Every address `hostname` resolves to, or null when it does not resolve within `timeoutMs`. */
export function resolveAll(hostname: string, timeoutMs: number): Promise<string[] | null> {
  return new Promise((resolve) => {
    // getaddrinfo cannot be cancelled; a slow resolver only stops being waited for.
    const timer = setTimeout(() => resolve(null), timeoutMs);
    timer.unref();
    dns.lookup(hostname, { all: true }, (err, addresses) => {
      clearTimeout(timer);
      resolve(err ? null : addresses.map((a) => a.address));
    });
  });
}

/**
 * A delivery error as the hook's owner may read it: what went wrong, never which address a name resolved to or
 * was connected to (Node's messages carry them: "connect ECONNREFUSED 10.0.0.5:80", TLS altname errors).
 */
export function publicError(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  if (code === 'EWEBHOOKBLOCKED') return BLOCKED_MESSAGE;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') return 'could not resolve the host name';
  if (code === 'EWEBHOOKTIMEOUT') return e.message;
  if (code === 'EWEBHOOKREDIRECTS') return e.message;
  if (/CERT|TLS|SSL|SIGNATURE|ISSUER/.test(code) || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return 'TLS handshake failed: the certificate is not trusted for this host';
  return 'could not connect';
}
