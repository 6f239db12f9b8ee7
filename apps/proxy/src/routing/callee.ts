/**
 * Who a request is for (the proxy's own subscribers only in this release): the
 * Request-URI user at a served domain, or a dialled number. The I/O layer tries the
 * candidates in order: username@domain first, then the number.
 */
export type CalleeCandidate =
  | { kind: 'aor'; username: string; domain: string }
  | { kind: 'number'; e164: string };

const NUMBER = /^\+?[0-9]{2,32}$/;

/**
 * `host` is the Request-URI host (lower case). `hostIsOurs` says whether it is an address
 * of the platform (then the caller's domain is meant); `callerDomain` is the caller's.
 */
export function calleeCandidates(user: string | null, host: string, hostIsOurs: boolean, callerDomain: string): CalleeCandidate[] {
  if (user === null || user.length === 0) return [];
  const u = decodeUser(user);
  const domain = hostIsOurs ? callerDomain : host.toLowerCase();
  const out: CalleeCandidate[] = [{ kind: 'aor', username: u, domain }];
  // dialled numbers: a "user=phone" style or plain digits, with or without '+'
  const digits = u.replace(/[-.()]/g, '');
  if (NUMBER.test(digits)) out.push({ kind: 'number', e164: digits.startsWith('+') ? digits.slice(1) : digits });
  return out;
}

function decodeUser(user: string): string {
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}
