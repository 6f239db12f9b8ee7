/** SIP requests (RFC 3261 §7.1). */
import type { HeaderField, HeaderInit } from './message-base.js';
import { SipMessageBase } from './message-base.js';
import type { Uri } from './uri.js';
import { parseUri } from './uri.js';

export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const;
  private _method: string;
  private _uri: string;

  constructor(method: string, uri: string, headers?: HeaderInit | HeaderField[], body?: Buffer | string) {
    super(headers, body);
    this._method = method;
    this._uri = uri;
  }

  get method(): string {
    return this._method;
  }
  set method(m: string) {
    this._method = m;
    this.rawBytes = null;
    this.startChanged = true;
  }
  /** The Request-URI as written. */
  get uri(): string {
    return this._uri;
  }
  set uri(u: string) {
    this._uri = u;
    this.rawBytes = null;
    this.startChanged = true;
  }

  startLine(): string {
    return `${this.method} ${this.uri} ${this.version}`;
  }

  private _ruri: Uri | null = null;
  private _ruriOf: string | null = null;

  /** The parsed Request-URI (cached; throws SipParseError 'uri'). */
  requestUri(): Uri {
    if (this._ruriOf !== this._uri || this._ruri === null) {
      this._ruri = parseUri(this._uri);
      this._ruriOf = this._uri;
    }
    return this._ruri;
  }

  /** Change the Request-URI. */
  setUri(uri: string | Uri): void {
    this.uri = uri.toString();
  }
}
