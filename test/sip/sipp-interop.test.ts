/**
 * Interop with a real SIP peer: sipp (Debian sip-tester) against the stack's
 * transport + transaction layers, over UDP and TCP on 127.0.0.1.
 *  - sipp's built-in UAC places calls (INVITE/180/200/ACK/BYE/200) to a small UAS
 *    written with @ngcp/sip; sipp exits 0 only when every call succeeded.
 *  - a UAC written with @ngcp/sip (client transactions + a dialog record) calls
 *    sipp's built-in UAS and hangs up.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SipRequest, SipResponse } from '@ngcp/sip';
import {
  SipRequest as Request, TransactionLayer, TransportLayer, createInDialogRequest, createResponse, createUacDialog, newBranch, newCallId, newTag,
} from '@ngcp/sip';
import { freePort } from '@ngcp/testkit';

const SDP = 'v=0\r\no=ngcp 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface SippRun {
  code: number | null;
  out: string;
}

/** Run sipp bounded in calls and time; resolves when it exits (killed by PID after `limitMs`). */
function sipp(args: string[], limitMs: number): { done: Promise<SippRun>; pid: number | undefined } {
  // sipp writes its error trace into its working directory: a temp dir of ours
  const cwd = mkdtempSync(join(tmpdir(), 'sipp-'));
  const p = spawn('sipp', [...args, '-nostdin', '-timeout', `${Math.ceil(limitMs / 1000)}s`, '-timeout_error', '-trace_err'], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => p.kill('SIGKILL'), limitMs + 5000);
  const done = new Promise<SippRun>((resolve) => p.on('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, out });
  }));
  cleanup.push(() => {
    if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  });
  return { done, pid: p.pid };
}

async function stack(transport: 'udp' | 'tcp', onRequest: (tx: Parameters<TransactionLayerUser['onRequest']>[0], req: SipRequest) => void) {
  const layer = new TransportLayer({ role: 'uas' });
  const [l] = await layer.listen([{ transport, address: '127.0.0.1', port: 0 }]);
  const tl = new TransactionLayer({ transport: layer, user: { onRequest } });
  layer.onMessage = (m, src) => void tl.receive(m, src);
  cleanup.push(() => layer.close(), () => tl.close());
  return { port: l!.port, tl, layer };
}
type TransactionLayerUser = ConstructorParameters<typeof TransactionLayer>[0]['user'];

describe('sipp UAC → @ngcp/sip UAS', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`completes 20 calls over ${transport.toUpperCase()}`, async () => {
      const counts = { INVITE: 0, BYE: 0 };
      const { port } = await stack(transport, (tx, req) => {
        if (req.method === 'INVITE') {
          counts.INVITE++;
          const toTag = newTag();
          tx.respond(createResponse(req, 180, { toTag }));
          const ok = createResponse(req, 200, { toTag, body: SDP, contentType: 'application/sdp', copyRecordRoute: true });
          ok.append('Contact', `<sip:uas@127.0.0.1:${port};transport=${transport}>`);
          tx.respond(ok);
        } else {
          if (req.method === 'BYE') counts.BYE++;
          tx.respond(createResponse(req, 200));
        }
      });
      const sippPort = await freePort({ udp: true, tcp: true });
      const run = sipp(['-sn', 'uac', `127.0.0.1:${port}`, '-i', '127.0.0.1', '-p', String(sippPort), '-t', transport === 'udp' ? 'u1' : 't1', '-m', '20', '-r', '20', '-l', '20', '-d', '10'], 30_000);
      const r = await run.done;
      expect(r.code, r.out.slice(-2000)).toBe(0);
      expect(counts).toEqual({ INVITE: 20, BYE: 20 });
    }, 60_000);
  }
});

describe('@ngcp/sip UAC → sipp UAS', () => {
  it('calls, gets 180 and 200, ACKs, hangs up with BYE', async () => {
    const sippPort = await freePort({ udp: true });
    const uas = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(sippPort), '-m', '1'], 30_000);
    await new Promise((r) => setTimeout(r, 300)); // sipp binds its socket
    const { port, tl, layer } = await stack('udp', (tx, req) => tx.respond(createResponse(req, 481)));
    const dest = { transport: 'udp' as const, address: '127.0.0.1', port: sippPort };
    const invite = new Request('INVITE', `sip:service@127.0.0.1:${sippPort}`, [
      ['Via', `SIP/2.0/UDP 127.0.0.1:${port};branch=${newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['From', `<sip:ngcp@127.0.0.1:${port}>;tag=${newTag()}`],
      ['To', `<sip:service@127.0.0.1:${sippPort}>`],
      ['Call-ID', newCallId('127.0.0.1')],
      ['CSeq', '1 INVITE'],
      ['Contact', `<sip:ngcp@127.0.0.1:${port}>`],
    ], SDP);
    invite.set('Content-Type', 'application/sdp');
    const seen: number[] = [];
    const ok = await new Promise<SipResponse>((resolve, reject) => {
      tl.sendRequest(invite, dest, {
        onProvisional: (res) => void seen.push(res.status),
        onFinal: (res) => (res.status === 200 ? resolve(res) : reject(new Error(`final ${res.status}`))),
      });
    });
    // the dialog, then the ACK for the 2xx (sent by the TU, RFC 3261 §13.2.2.4) and the BYE
    const dialog = createUacDialog(invite, ok);
    expect(dialog.state).toBe('confirmed');
    const via = { transport: 'udp', host: '127.0.0.1', port };
    const ack = createInDialogRequest(dialog, 'ACK', { via, cseq: 1 });
    await layer.send(ack.request, dest);
    const bye = createInDialogRequest(ack.dialog, 'BYE', { via });
    const byeRes = await new Promise<SipResponse>((resolve) => tl.sendRequest(bye.request, dest, { onFinal: (res) => resolve(res) }));
    expect(byeRes.status).toBe(200);
    expect(seen).toContain(180);
    const r = await uas.done;
    expect(r.code, r.out.slice(-2000)).toBe(0);
  }, 60_000);
});
