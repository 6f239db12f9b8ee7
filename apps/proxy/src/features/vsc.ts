/**
 * Star codes (vertical service codes, sip:provider's defaults): what a dialled Request-URI user
 * asks for. Pure: the proxy applies the result (features/vsc-apply.ts, sip/invite-session.ts).
 *
 *   *72*<number>[#]  CFU to the number        #72#  clear CFU
 *   *90*<number>[#]  CFB                      #90#  clear CFB
 *   *92*<number>[#]  CFT                      #92#  clear CFT
 *   *93*<number>[#]  CFNA                     #93#  clear CFNA
 *   *31*<number>[#]  call the number with the caller's identity withheld (CLIR for that call)
 *
 * Phones escape `*` and `#` in a URI (`%2A`, `%23`; `#` is not allowed as it is): the user is
 * unescaped first. A user that starts with a configured code is a star code; anything after
 * the code that is not a number (digits with an optional leading `+`, visual separators
 * `-.()` and spaces ignored) makes it a malformed one (`error`), answered with the `vsc-error`
 * announcement. A user that starts with no configured code (`*55*1`, `#31#`) is not a star code:
 * the call is routed as dialled.
 */
import type { ForwardType } from './forwards.js';

export type VscCode = ForwardType | 'clir';
export type VscCodes = Record<VscCode, string>;

/** sip:provider's default codes (config `vsc.cfu_code` …). */
export const DEFAULT_VSC_CODES: VscCodes = { cfu: '72', cfb: '90', cft: '92', cfna: '93', clir: '31' };

export type StarCode =
  | { code: ForwardType; action: 'set'; number: string }
  | { code: ForwardType; action: 'clear' }
  | { code: 'clir'; action: 'call'; number: string }
  | { code: VscCode; action: 'error'; reason: string };

/** The announcement a star code is confirmed with (the app-server's `announce.<name>`). */
export type VscAnnouncement = 'vsc-ok' | 'vsc-cleared' | 'vsc-error';

const ORDER: readonly VscCode[] = ['cfu', 'cfb', 'cft', 'cfna', 'clir'];

/** `%2A` → `*`, `%23` → `#`, any other escape decoded too; an unusable escape leaves the user as it is. */
export function unescapeUser(user: string): string {
  if (!user.includes('%')) return user;
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

/** The number after a code: digits with an optional `+`, separators removed; null when it is none. */
function numberPart(rest: string): string | null {
  const s = rest.replace(/#$/, '').replace(/[-.() ]/g, '');
  return /^\+?[0-9]{1,32}$/.test(s) ? s : null;
}

/**
 * What a dialled user asks for, or null when it is not a star code. `codes` are digit strings
 * (the config schema checks them, and that they differ).
 */
export function parseStarCode(rawUser: string | null | undefined, codes: VscCodes = DEFAULT_VSC_CODES): StarCode | null {
  if (!rawUser) return null;
  const user = unescapeUser(rawUser);
  const first = user[0];
  if (first !== '*' && first !== '#') return null;
  for (const code of ORDER) {
    const digits = codes[code];
    if (first === '*' && user.startsWith(`*${digits}*`)) {
      const number = numberPart(user.slice(digits.length + 2));
      if (number === null) return { code, action: 'error', reason: user.length === digits.length + 2 ? 'no number' : 'not a number' };
      return code === 'clir' ? { code, action: 'call', number } : { code, action: 'set', number };
    }
    if (first === '#' && (user === `#${digits}#` || user === `#${digits}`)) {
      return code === 'clir' ? null : { code, action: 'clear' };
    }
    // a clear code with anything after it is a mistake, not a call
    if (first === '#' && code !== 'clir' && user.startsWith(`#${digits}#`)) return { code, action: 'error', reason: 'text after the clear code' };
  }
  return null;
}

/** The announcement that confirms a star code (CLIR has none: the call goes to the number). */
export function vscAnnouncement(s: StarCode): VscAnnouncement {
  return s.action === 'error' ? 'vsc-error' : s.action === 'clear' ? 'vsc-cleared' : 'vsc-ok';
}
