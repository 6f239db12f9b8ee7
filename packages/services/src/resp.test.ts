import { describe, expect, it } from 'vitest';
import { parseResp, RedisReplyError } from './resp.js';

const p = (s: string): ReturnType<typeof parseResp> => parseResp(Buffer.from(s));

describe('parseResp', () => {
  it.each([
    ['+OK\r\n', 'OK'],
    [':42\r\n', 42],
    ['$5\r\nhello\r\n', 'hello'],
    ['$-1\r\n', null],
    ['$8\r\na\r\nb:c\r\n\r\n', 'a\r\nb:c\r\n'],
    ['*3\r\n$6\r\nmaster\r\n:10\r\n*0\r\n', ['master', 10, []]],
  ])('%j → %j', (wire, value) => {
    expect(p(wire)).toEqual({ value, end: Buffer.byteLength(wire) });
  });

  it('an error reply is a RedisReplyError', () => {
    const r = p('-READONLY You can\'t write against a read only replica.\r\n');
    expect(r?.value).toBeInstanceOf(RedisReplyError);
    expect((r?.value as Error).message).toMatch(/^READONLY/);
  });

  it('waits for the whole reply', () => {
    expect(p('$5\r\nhel')).toBeUndefined();
    expect(p('*2\r\n:1\r\n')).toBeUndefined();
    expect(p('+OK')).toBeUndefined();
  });

  it('counts bulk lengths in bytes', () => {
    expect(p('$2\r\né\r\n')).toEqual({ value: 'é', end: 8 });
  });
});
