// IP allow/deny lists in CIDR notation, matched with Node's net.BlockList.
// An address passes when it is not denied and, if an allow list is set, is
// allowed. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are matched as IPv4.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export class IpPolicyError extends Error {
  override readonly name = 'IpPolicyError';
}

function toList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr = '', bits] = c.split('/');
    const type = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : undefined;
    if (type === undefined) throw new IpPolicyError(`not an IP address or CIDR: ${JSON.stringify(c)}`);
    if (bits === undefined) {
      list.addAddress(addr, type);
      continue;
    }
    const prefix = Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) throw new IpPolicyError(`bad prefix length in ${JSON.stringify(c)}`);
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

export function normalizeAddress(ip: string): string {
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

export class IpPolicy {
  private readonly allow: BlockList | undefined;
  private readonly deny: BlockList | undefined;

  /** Throws IpPolicyError on a malformed entry, so bad config is refused when it is set. */
  constructor(allow: readonly string[] | undefined, deny: readonly string[] | undefined) {
    this.allow = allow !== undefined && allow.length > 0 ? toList(allow) : undefined;
    this.deny = deny !== undefined && deny.length > 0 ? toList(deny) : undefined;
  }

  permits(ip: string): boolean {
    const a = normalizeAddress(ip);
    const type = isIPv4(a) ? 'ipv4' : 'ipv6';
    if (this.deny?.check(a, type) === true) return false;
    return this.allow === undefined || this.allow.check(a, type);
  }
}

export const OPEN_POLICY = new IpPolicy(undefined, undefined);
