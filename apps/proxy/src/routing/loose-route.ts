/**
 * Route processing of a proxy (RFC 3261 §16.4, §16.6 steps 6–7, §16.12): own entries on
 * top of the Route set are removed; the request goes to the next Route entry, or to the
 * Request-URI when none is left. A request that reached us through a strict router (the
 * Request-URI is ours) gets its Request-URI back from the last Route entry (§16.4).
 */
import type { Destination, NameAddr, Uri } from '@ngcp/sip';
import { isOwnUri, uriDestination, type OwnAddress } from './uri-destination.js';

export interface LooseRoutePlan {
  /** how many Route entries to remove from the top */
  popTop: number;
  /** strict-router repair: replace the Request-URI with this and remove the last Route entry */
  newRequestUri?: string;
  /** where the request goes; undefined: not routable by IP (answer 404/502) */
  next?: Destination;
  /** whether our own entry was on top (an in-dialog request we record-routed) */
  ownRouteSeen: boolean;
}

export function planLooseRoute(routes: readonly NameAddr[], requestUri: Uri, self: OwnAddress): LooseRoutePlan {
  let rest = routes.slice();
  let newRequestUri: string | undefined;
  if (isOwnUri(requestUri, self) && rest.length > 0) {
    // §16.4: the previous element was a strict router
    newRequestUri = rest[rest.length - 1]!.uri.toString();
    rest = rest.slice(0, -1);
  }
  let popTop = 0;
  while (popTop < rest.length && isOwnUri(rest[popTop]!.uri, self)) popTop++;
  const after = rest.slice(popTop);
  const target = after.length > 0 ? after[0]!.uri : undefined;
  let next: Destination | undefined;
  if (target) next = uriDestination(target);
  else if (newRequestUri === undefined) next = uriDestination(requestUri);
  else {
    // the repaired Request-URI is the target
    next = undefined;
  }
  const plan: LooseRoutePlan = { popTop, ownRouteSeen: popTop > 0 };
  if (newRequestUri !== undefined) plan.newRequestUri = newRequestUri;
  if (next) plan.next = next;
  return plan;
}
