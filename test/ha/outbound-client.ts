/**
 * An RFC 5626 (outbound) SIP UA over TCP, run as its own process inside a lab namespace
 * by the lab test through outbound-ua.ts (`ip netns exec client node --import tsx outbound-client.ts …`):
 *
 * - registers with `+sip.instance`/`reg-id` and `Supported: outbound`, and reads the
 *   registrar's `Flow-Timer`;
 * - keeps the flow alive as §4.4.1 asks: a CRLFCRLF ping at a random 80–100 % of
 *   Flow-Timer;
 * - when the connection closes (a failover moved the shared IP: the new node answers the
 *   next ping with a reset), registers again at once over a new connection (§4.5);
 * - answers every INVITE with 486 over the connection it came on (reachable = answers).
 *
 * One JSON line on stdout per event: `{"ev":"registered","t":<epoch ms>,"status":200,
 * "flow_timer":15}`, `{"ev":"closed","t":…}`, `{"ev":"ping","t":…}`, `{"ev":"invite","t":…}`,
 * `{"ev":"error","t":…,"msg":…}`. Ends after --duration-ms (bounded) or on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import { TransportLayer } from '@ngcp/sip';
import { SipClient } from '../e2e/sip-client.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const need = (k: string): string => {
  const v = args.get(k);
  if (!v) throw new Error(`--${k} is required`);
  return v;
};
const [host, port] = need('dest').split(':');
const user = need('user');
const password = need('password');
const domain = need('domain');
const contactHost = need('contact-host');
const durationMs = Math.min(Number(args.get('duration-ms') ?? 120_000), 600_000);

const emit = (ev: string, more: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ ev, t: Date.now(), ...more })}\n`);
};

let client: SipClient;
let flowTimer = 0;
let pingTimer: NodeJS.Timeout | undefined;
let registering = false;
let stopping = false;
const instance = `urn:uuid:${randomUUID()}`;

const layer = new TransportLayer({
  role: 'uas',
  onConnectionClose: () => {
    if (stopping) return;
    emit('closed');
    void register();
  },
});
client = new SipClient(layer, 'tcp', { address: host!, port: Number(port) });

function schedulePing(): void {
  clearTimeout(pingTimer);
  if (flowTimer <= 0 || stopping) return;
  const ms = flowTimer * 1000 * (0.8 + Math.random() * 0.2);
  pingTimer = setTimeout(() => {
    const c = layer.connections()[0];
    if (!c) return void register();
    layer.ping(c.id).then(
      () => emit('ping'),
      (e: unknown) => emit('error', { msg: `ping: ${(e as Error).message}` }),
    );
    schedulePing();
  }, ms);
}

async function register(): Promise<void> {
  if (registering || stopping) return;
  registering = true;
  try {
    for (let attempt = 0; attempt < 20 && !stopping; attempt++) {
      try {
        const r = await client.register({ user, password, domain, expires: 300, contactHost, outbound: { instance, regId: 1 } });
        flowTimer = Number(r.final.get('flow-timer') ?? 0);
        emit('registered', { status: r.final.status, flow_timer: flowTimer, require: r.final.get('require') ?? null });
        if (r.final.status === 200) {
          schedulePing();
          return;
        }
      } catch (e) {
        emit('error', { msg: `register: ${(e as Error).message}` });
      }
      // §4.5: back off before the next attempt (short here: the test measures the recovery)
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    registering = false;
  }
}

async function answerInvites(): Promise<void> {
  while (!stopping) {
    try {
      const inc = await client.nextRequest('INVITE', 1000);
      emit('invite', { call_id: inc.req.callId() });
      await client.respond(inc, 486, { user });
    } catch {
      // no INVITE this second
    }
  }
}

async function stop(): Promise<void> {
  stopping = true;
  clearTimeout(pingTimer);
  await layer.close().catch(() => undefined);
  process.exit(0);
}

process.on('SIGTERM', () => void stop());
setTimeout(() => void stop(), durationMs).unref();
await register();
void answerInvites();
