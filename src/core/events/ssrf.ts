// The guard against server-side request forgery for webhooks: a hook may not reach loopback, link-local,
// private or otherwise special addresses, unless an admin allowed the host or range (WHARF_WEBHOOK_ALLOWED_HOSTS).
// It is applied to the address actually connected to (a custom DNS lookup), so DNS rebinding and redirects to
// private addresses are refused too.
import dns from 'node:dns';
import net from 'node:net';

const SPECIAL_V4 = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const;
const SPECIAL_V6 = [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96]] as const;

const special = new net.BlockList();
for (const [a, p] of SPECIAL_V4) special.addSubnet(a, p, 'ipv4');
for (const [a, p] of SPECIAL_V6) special.addSubnet(a, p, 'ipv6');

/** True for addresses a webhook may not reach by default. */
export function isSpecialAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return isSpecialAddress(mapped[1]);
  const family = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : null;
  if (!family) return true;
  return special.check(ip, family);
}

export class AddressPolicy {
  private readonly hosts = new Set<string>();
  private readonly ranges = new net.BlockList();

  /** `allowed`: host names, IP addresses or CIDRs (`127.0.0.1`, `10.0.0.0/8`, `hooks.internal`). */
  constructor(allowed: string[]) {
    for (const entry of allowed) {
      const [addr, bits] = entry.split('/');
      const family = net.isIPv4(addr) ? 'ipv4' : net.isIPv6(addr) ? 'ipv6' : null;
      if (family) this.ranges.addSubnet(addr, bits ? Number(bits) : family === 'ipv4' ? 32 : 128, family);
      else this.hosts.add(entry.toLowerCase());
    }
  }

  /** May a hook connect to `ip`, reached through `hostname`? */
  allows(hostname: string, ip: string): boolean {
    if (this.hosts.has(hostname.toLowerCase())) return true;
    const family = net.isIPv4(ip) ? 'ipv4' : 'ipv6';
    if (this.ranges.check(ip, family)) return true;
    return !isSpecialAddress(ip);
  }

  /** A `lookup` for http.request that resolves, then refuses addresses the policy does not allow. */
  lookup = (hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const ok = (addresses as dns.LookupAddress[]).filter((a) => this.allows(hostname, a.address));
      if (!ok.length) {
        const e: NodeJS.ErrnoException = new Error(`webhook target ${hostname} resolves to a private or special address (${(addresses as dns.LookupAddress[]).map((a) => a.address).join(', ')}); allow it with WHARF_WEBHOOK_ALLOWED_HOSTS`);
        e.code = 'EWEBHOOKBLOCKED';
        return callback(e, '', 0);
      }
      if (options.all) return callback(null, ok);
      return callback(null, ok[0].address, ok[0].family);
    });
  };
}
