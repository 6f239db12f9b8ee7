/**
 * Schema fragments every daemon's config repeats, with their types: where the control
 * endpoint listens, the log level, how to reach Redis and MariaDB. Use them as
 * properties of a daemon's own `JSONSchemaType` (`{ control: commonSchemas.control, … }`).
 */
import type { JSONSchemaType } from 'ajv';

export interface ControlConfig {
  /** Loopback or the node's internal address. */
  address: string;
  /** 0 = any free port (tests). */
  port: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogConfig {
  level: LogLevel;
}

export interface RedisConnConfig {
  host: string;
  port: number;
  password?: string;
  db: number;
}

export interface DbConnConfig {
  host: string;
  port: number;
  /** Unix socket; when set it is used instead of host/port. */
  socket?: string;
  user: string;
  password: string;
  database: string;
  pool_max?: number;
}

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const host = { type: 'string', minLength: 1 } as const;

const control: JSONSchemaType<ControlConfig> = {
  type: 'object',
  properties: { address: { type: 'string', format: 'ip' }, port },
  required: ['address', 'port'],
  additionalProperties: false,
};

const log: JSONSchemaType<LogConfig> = {
  type: 'object',
  properties: { level: { type: 'string', enum: [...LOG_LEVELS] } },
  required: ['level'],
  additionalProperties: false,
};

const redis: JSONSchemaType<RedisConnConfig> = {
  type: 'object',
  properties: {
    host,
    port,
    password: { type: 'string', nullable: true },
    db: { type: 'integer', minimum: 0, maximum: 255 },
  },
  required: ['host', 'port', 'db'],
  additionalProperties: false,
};

const db: JSONSchemaType<DbConnConfig> = {
  type: 'object',
  properties: {
    host,
    port,
    socket: { type: 'string', minLength: 1, nullable: true },
    user: host,
    password: { type: 'string' },
    database: { type: 'string', pattern: '^[A-Za-z0-9_]+$' },
    pool_max: { type: 'integer', minimum: 1, nullable: true },
  },
  required: ['host', 'port', 'user', 'password', 'database'],
  additionalProperties: false,
};

/** A SIP daemon's UDP listener on one address (0: a free port, tests). */
export interface UdpListenConfig {
  address: string;
  udp_port: number;
}

const udpListen: JSONSchemaType<UdpListenConfig> = {
  type: 'object',
  properties: { address: { type: 'string', format: 'ip' }, udp_port: { type: 'integer', minimum: 0, maximum: 65535 } },
  required: ['address', 'udp_port'],
  additionalProperties: false,
};

export interface CommonSchemas {
  udpListen: JSONSchemaType<UdpListenConfig>;
  control: JSONSchemaType<ControlConfig>;
  log: JSONSchemaType<LogConfig>;
  redis: JSONSchemaType<RedisConnConfig>;
  db: JSONSchemaType<DbConnConfig>;
}

export const commonSchemas: Readonly<CommonSchemas> = { udpListen, control, log, redis, db };
