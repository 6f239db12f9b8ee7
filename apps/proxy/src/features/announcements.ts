/**
 * The app-server's announcements (docs/routing.md "Announcements"): which one a failed call of
 * a subscriber hears, and the Request-URI the proxy sends the call to,
 * `sip:announce.<name>@<app-server address>`. Pure.
 */
import type { VscAnnouncement } from './vsc.js';

export type FailureAnnouncement = 'number-unknown' | 'busy' | 'unavailable' | 'no-credit' | 'not-allowed';
export type AnnouncementName = FailureAnnouncement | VscAnnouncement;

const BY_STATUS: Readonly<Record<number, FailureAnnouncement>> = {
  404: 'number-unknown',
  486: 'busy',
  480: 'unavailable',
  408: 'unavailable',
  402: 'no-credit',
  403: 'not-allowed',
};

/** The announcement of a final response the caller would get, or undefined (that final is relayed). */
export function failureAnnouncement(status: number): FailureAnnouncement | undefined {
  return BY_STATUS[status];
}

/** `sip:<user>@<host>:<port>` of the app-server (an IPv6 host in brackets): announcements and voicemail. */
export function appserverUri(user: string, at: { address: string; port: number }): string {
  const host = at.address.includes(':') ? `[${at.address}]` : at.address;
  return `sip:${user}@${host}:${at.port}`;
}

/** `sip:announce.<name>@<host>:<port>`. */
export function announcementUri(name: AnnouncementName, at: { address: string; port: number }): string {
  return appserverUri(`announce.${name}`, at);
}
