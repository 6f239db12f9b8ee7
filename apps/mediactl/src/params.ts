/**
 * Checks the params of the `media.*` control methods (docs/calls.md). A bad one is a
 * MediaError 'invalid-params' naming the field.
 */
import { MediaError } from './media-error.js';
import type { DeleteInput } from './media-service.js';
import type { AnswerInput, OfferInput } from './ng-params.js';

type Obj = Record<string, unknown>;

const MAX_SDP = 65_536;
const FLAG = /^[A-Za-z0-9_.:=/-]{1,64}$/;

function object(params: unknown): Obj {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params)) throw new MediaError('invalid-params', 'params: expected an object');
  return params as Obj;
}

function str(p: Obj, key: string, max: number): string {
  const v = p[key];
  if (typeof v !== 'string' || v.length === 0) throw new MediaError('invalid-params', `${key}: required non-empty string`);
  if (v.length > max) throw new MediaError('invalid-params', `${key}: longer than ${max} characters`);
  return v;
}

function optStr(p: Obj, key: string, max: number): string | undefined {
  return p[key] === undefined ? undefined : str(p, key, max);
}

function flags(p: Obj): string[] | undefined {
  const v = p['flags'];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 32) throw new MediaError('invalid-params', 'flags: expected an array of at most 32 ng flag strings');
  v.forEach((f, i) => {
    if (typeof f !== 'string' || !FLAG.test(f)) throw new MediaError('invalid-params', `flags[${i}]: expected an ng flag such as 'trust-address'`);
  });
  return v as string[];
}

export function parseOffer(params: unknown): OfferInput {
  const p = object(params);
  return { callId: str(p, 'call_id', 256), fromTag: str(p, 'from_tag', 256), sdp: str(p, 'sdp', MAX_SDP), flags: flags(p) };
}

export function parseAnswer(params: unknown): AnswerInput {
  const p = object(params);
  return { ...parseOffer(p), toTag: str(p, 'to_tag', 256) };
}

export function parseDelete(params: unknown): DeleteInput {
  const p = object(params);
  return { callId: str(p, 'call_id', 256), fromTag: optStr(p, 'from_tag', 256), toTag: optStr(p, 'to_tag', 256) };
}

export function parseQuery(params: unknown): { callId: string; fromTag?: string | undefined } {
  const p = object(params);
  return { callId: str(p, 'call_id', 256), fromTag: optStr(p, 'from_tag', 256) };
}

export function parseList(params: unknown): { limit: number } {
  const p = object(params);
  const v = p['limit'];
  if (v === undefined) return { limit: 100 };
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 10_000) throw new MediaError('invalid-params', 'limit: expected an integer from 1 to 10000');
  return { limit: v };
}
