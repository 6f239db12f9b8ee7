/**
 * The trusted peers (`trusted_peers`): addresses and networks (CIDR). Plain addresses are
 * one Set lookup; networks go through node's BlockList (only built when there is one).
 */
import { BlockList, isIP } from 'node:net';

export function trustedSet(entries: readonly string[]): { has(address: string): boolean } {
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
    if (fam === 0) throw new Error(`trusted_peers: ${e} is not an address or network`);
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
