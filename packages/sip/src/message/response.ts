/** SIP responses (RFC 3261 §7.2). */
import type { HeaderField, HeaderInit } from './message-base.js';
import { SipMessageBase } from './message-base.js';

export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const;
  private _status: number;
  private _reason: string;

  constructor(status: number, reason: string, headers?: HeaderInit | HeaderField[], body?: Buffer | string) {
    super(headers, body);
    this._status = status;
    this._reason = reason;
  }

  get status(): number {
    return this._status;
  }
  set status(s: number) {
    this._status = s;
    this.rawBytes = null;
    this.startChanged = true;
  }
  get reason(): string {
    return this._reason;
  }
  set reason(r: string) {
    this._reason = r;
    this.rawBytes = null;
    this.startChanged = true;
  }

  startLine(): string {
    return `${this.version} ${this.status} ${this.reason}`;
  }
}
