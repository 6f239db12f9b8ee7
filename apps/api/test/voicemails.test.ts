/**
 * /api/voicemails and /api/voicemailrecordings (issue #11) against a real MariaDB: the
 * recording served from a real WAV file in a temp dir (the app-server's layout
 * `<dir>/<box id>/<message id>.wav`) or from the row, DELETE removing row and file, and the
 * app-server's `appserver.mwi` asked after each change — a real JSON-RPC control endpoint
 * (@ngcp/rpc) on loopback stands for the app-server; when it is gone the change still succeeds.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertVoicemail } from '@ngcp/db';
import { RpcServer } from '@ngcp/rpc';
import { freePort } from '@ngcp/testkit';
import { call, scopeFixture, uniq, useApi } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'api-voicemail-'));
const rpcPort = await freePort();
const h = useApi({ voicemail: { dir, appserver_control: `http://127.0.0.1:${rpcPort}/`, mwi_timeout_ms: 500 } });
const app = () => h().app;

/** What the app-server stand-in was asked. */
const asked: unknown[] = [];
let appserver: RpcServer | undefined;
let domain: string;
let alice: { id: number };
let bob: { id: number };
let aliceAuth: string;
let resellerAuth: string;

beforeAll(async () => {
  appserver = new RpcServer({ host: '127.0.0.1', port: rpcPort, logger: pino({ level: 'silent' }) });
  appserver.register('appserver.mwi', (params) => {
    asked.push(params);
    return { sent: 1 };
  });
  await appserver.listen();
  ({ domain, alice, bob, aliceAuth, resellerAuth } = await scopeFixture(h(), 'v'));
});
afterAll(async () => {
  await appserver?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An 8 kHz mono 16-bit PCM WAV of `ms` of a 1 kHz tone (what the app-server records). */
function wav(ms: number): Buffer {
  const n = (8000 * ms) / 1000;
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + pcm.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

/** A message without audio in the row, its recording as the app-server's file. */
async function messageWithFile(subscriberId: number, caller: string, ms = 500): Promise<{ id: number; file: string; audio: Buffer }> {
  const id = await insertVoicemail(h().db, subscriberId, { caller, duration: Math.ceil(ms / 1000) });
  const { box_id: boxId } = await h().db('voicemail_messages').where({ id }).first('box_id');
  mkdirSync(join(dir, String(boxId)), { recursive: true });
  const file = join(dir, String(boxId), `${id}.wav`);
  const audio = wav(ms);
  writeFileSync(file, audio);
  return { id, file, audio };
}

const askedFor = (subscriberId: number) => asked.filter((p) => (p as { subscriber_id: number }).subscriber_id === subscriberId).length;
async function until(fn: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('voicemail recordings', () => {
  it('GET /api/voicemailrecordings/:id: the app-server\'s WAV file as audio/x-wav, byte for byte; the row\'s audio when it has one; 404 once the file is gone', async () => {
    const m = await messageWithFile(alice.id, '4930111', 700);
    for (const url of [`/api/voicemailrecordings/${m.id}`, `/api/voicemails/${m.id}/recording`]) {
      const res = await app().inject({ method: 'GET', url, headers: { authorization: aliceAuth } });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('audio/x-wav');
      expect(Number(res.headers['content-length'])).toBe(m.audio.length);
      expect(res.rawPayload.equals(m.audio)).toBe(true);
    }
    expect((await call(app(), 'GET', `/api/voicemails/${m.id}`)).data.has_audio).toBe(false);
    rmSync(m.file);
    const gone = await call(app(), 'GET', `/api/voicemailrecordings/${m.id}`);
    expect(gone.statusCode).toBe(404);
    expect(gone.data.message).toMatch(/recording .* is gone/);
    // a row that holds the audio (replicated with the database) needs no file
    const inRow = wav(200);
    const r = await insertVoicemail(h().db, alice.id, { caller: '4930112', duration: 1, audio: inRow });
    const res = await app().inject({ method: 'GET', url: `/api/voicemailrecordings/${r}`, headers: { authorization: aliceAuth } });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(inRow)).toBe(true);
  });

  it('only within the caller\'s scope: bob\'s recording is 404 to alice and to alice\'s reseller, 200 to the admin; an unknown or malformed id 404', async () => {
    const m = await messageWithFile(bob.id, '4930222');
    expect((await call(app(), 'GET', `/api/voicemailrecordings/${m.id}`, { auth: aliceAuth })).statusCode).toBe(404);
    expect((await call(app(), 'GET', `/api/voicemailrecordings/${m.id}`, { auth: resellerAuth })).statusCode).toBe(404);
    expect((await call(app(), 'GET', `/api/voicemailrecordings/${m.id}`)).statusCode).toBe(200);
    expect((await call(app(), 'GET', '/api/voicemailrecordings/999999')).statusCode).toBe(404);
    expect((await call(app(), 'GET', '/api/voicemailrecordings/abc')).statusCode).toBe(404);
  });
});

describe('voicemails', () => {
  it('list by subscriber and folder, paged and ordered; PATCH to Old asks the app-server for the MWI of the box owner; a bad folder is 422 naming it and changes nothing', async () => {
    const carol = (await call(app(), 'POST', '/api/subscribers', { body: { domain, username: uniq('carol'), password: 'secret1' } })).data;
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(await insertVoicemail(h().db, carol.id, { caller: `49301${i}`, duration: i + 1, receivedAt: new Date(Date.UTC(2026, 0, 1 + i)) }));
    const page2 = await call(app(), 'GET', '/api/voicemails', { query: { subscriber_id: carol.id, rows: 2, page: 2, order_by: 'received_at', order_by_direction: 'desc' } });
    expect(page2.data.total_count).toBe(3);
    expect(page2.data.items.map((v: { id: number }) => v.id)).toEqual([ids[0]]);
    const before = askedFor(carol.id);
    const moved = await call(app(), 'PATCH', `/api/voicemails/${ids[1]}`, { patch: true, body: [{ op: 'replace', path: '/folder', value: 'Old' }, { op: 'replace', path: '/is_read', value: true }] });
    expect(moved.statusCode).toBe(200);
    expect(moved.data).toMatchObject({ id: ids[1], subscriber_id: carol.id, folder: 'Old', is_read: true });
    await until(() => askedFor(carol.id) === before + 1, 'appserver.mwi for carol');
    expect(asked.at(-1)).toEqual({ subscriber_id: carol.id });
    const old = await call(app(), 'GET', '/api/voicemails', { query: { subscriber_id: carol.id, folder: 'Old' } });
    expect(old.data.items.map((v: { id: number }) => v.id)).toEqual([ids[1]]);
    expect((await call(app(), 'GET', '/api/voicemails', { query: { subscriber_id: carol.id, folder: 'INBOX' } })).data.total_count).toBe(2);
    const bad = await call(app(), 'PATCH', `/api/voicemails/${ids[0]}`, { patch: true, body: [{ op: 'replace', path: '/folder', value: 'Trash' }] });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field)).toEqual(['folder']);
    const badFilter = await call(app(), 'GET', '/api/voicemails', { query: { folder: 'Trash' } });
    expect(badFilter.statusCode).toBe(422);
    expect(badFilter.data.fields.map((f: { field: string }) => f.field)).toEqual(['folder']);
    expect((await call(app(), 'GET', `/api/voicemails/${ids[0]}`)).data.folder).toBe('INBOX');
    // the journal has the change
    const j = await call(app(), 'GET', '/api/journal', { query: { entity: 'voicemail', entity_id: ids[1]! } });
    expect(j.data.items[0].content).toEqual(moved.data);
  });

  it('DELETE (by the owner) removes the row and the recording file, and asks for the MWI; a second DELETE is 404', async () => {
    const m = await messageWithFile(alice.id, '4930333');
    const before = askedFor(alice.id);
    expect((await call(app(), 'DELETE', `/api/voicemails/${m.id}`, { auth: aliceAuth })).statusCode).toBe(204);
    expect(await h().db('voicemail_messages').where({ id: m.id }).first()).toBeUndefined();
    await until(() => !existsSync(m.file), 'the recording file removed');
    await until(() => askedFor(alice.id) === before + 1, 'appserver.mwi for alice');
    expect((await call(app(), 'DELETE', `/api/voicemails/${m.id}`, { auth: aliceAuth })).statusCode).toBe(404);
    expect((await call(app(), 'GET', `/api/voicemailrecordings/${m.id}`)).statusCode).toBe(404);
    // a message whose file is already gone is deleted all the same
    const n = await messageWithFile(alice.id, '4930334');
    rmSync(n.file);
    expect((await call(app(), 'DELETE', `/api/voicemails/${n.id}`)).statusCode).toBe(204);
  });

  it('with the app-server away the change still succeeds; the failed MWI request is counted in /api/metrics', async () => {
    const m = await messageWithFile(bob.id, '4930444');
    await appserver!.close();
    appserver = undefined;
    const failed = (await call(app(), 'GET', '/api/metrics')).data.mwi.failed as number;
    const put = await call(app(), 'PUT', `/api/voicemails/${m.id}`, { body: { folder: 'Old', is_read: true } });
    expect(put.statusCode).toBe(200);
    expect((await call(app(), 'GET', `/api/voicemails/${m.id}`)).data).toMatchObject({ folder: 'Old', is_read: true });
    await until(async () => (await call(app(), 'GET', '/api/metrics')).data.mwi.failed === failed + 1, 'the failed MWI request counted');
    // nothing else was touched: the recording is still there
    expect(readFileSync(m.file).equals(m.audio)).toBe(true);
  });
});
