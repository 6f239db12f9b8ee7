/** The trusted peers (`trusted_peers`): addresses and networks (CIDR), see @ngcp/daemon addressSet. */
import { addressSet, type AddressSet } from '@ngcp/daemon';

export function trustedSet(entries: readonly string[]): AddressSet {
  return addressSet(entries, 'trusted_peers');
}
