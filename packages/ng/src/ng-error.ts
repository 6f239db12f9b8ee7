/** Errors of the ng client: one class, a stable code each. */

export const NG_ERRORS = {
  /** no reply within the client's timeout (rtpengine down, wrong port, reply lost) */
  timeout: 'no reply from rtpengine',
  /** rtpengine answered `result: error`; `errorReason` says why */
  'error-result': 'rtpengine refused the command',
  /** the UDP socket failed (send error, client closed) */
  socket: 'ng socket error',
} as const;

export type NgErrorCode = keyof typeof NG_ERRORS;

export class NgError extends Error {
  readonly code: NgErrorCode;
  /** the ng command that failed, as sent (`offer`, `start recording` …) */
  readonly command: string;
  /** rtpengine's `error-reason` (code 'error-result' only) */
  readonly errorReason: string | undefined;

  constructor(code: NgErrorCode, command: string, message?: string, opts: { errorReason?: string; cause?: unknown } = {}) {
    super(message ?? `${NG_ERRORS[code]} (${command})`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NgError';
    this.code = code;
    this.command = command;
    this.errorReason = opts.errorReason;
  }
}
