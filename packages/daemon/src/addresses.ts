/**
 * A set of addresses and CIDR networks from config (`lb.trusted_peers`, `security.exempt`):
 * plain addresses are one Set lookup; networks go through node's BlockList (built only when
 * there is one). `what` names the key in the error for an entry that is neither.
 */
import { BlockList, isIP } from 'node:net';

export interface AddressSet {
  has(address: string): boolean;
}

export function addressSet(entries: readonly string[], what = 'address list'): AddressSet {
  const exact = new Set<string>();
  let nets: BlockList | null = null;
  for (const e of entries) {
    const slash = e.indexOf('/');
    if (slash < 0) {
      exact.add(e);
      continue;
    }
    const net = e.slice(0, slash);
    const fam = isIP(net);
    if (fam === 0) throw new Error(`${what}: ${e} is not an address or network`);
    nets ??= new BlockList();
    nets.addSubnet(net, Number(e.slice(slash + 1)), fam === 4 ? 'ipv4' : 'ipv6');
  }
  return {
    has(address: string): boolean {
      if (exact.has(address)) return true;
      if (nets === null) return false;
      const fam = isIP(address);
      return fam !== 0 && nets.check(address, fam === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
