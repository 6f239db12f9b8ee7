/** The API's root logger (only apps make one): JSON lines, credentials redacted wherever they appear. */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { ApiConfig } from './config.js';

export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization',
  'password', 'webpassword', 'token', 'password_hash', 'webpassword_hash', 'ha1_md5', 'ha1_sha256', 'pin',
  '*.password', '*.webpassword', '*.token', '*.password_hash', '*.webpassword_hash', '*.ha1_md5', '*.ha1_sha256', '*.pin',
  'config.db.password', 'config.redis.password', 'config.admin.password',
];

export function createLogger(config: Pick<ApiConfig, 'log'>, destination?: NodeJS.WritableStream): Logger {
  const opts = { name: 'ngcp-api', level: config.log.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(opts, destination as DestinationStream) : pino(opts);
}
