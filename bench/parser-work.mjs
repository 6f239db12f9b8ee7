// The work of the parser benchmark (bench/parser.mjs, bench/parser-instructions.mjs):
// @ngcp/sip and the npm `sip` package doing the same work on the same bytes.
//
// npm sip's parse() is eager: it structures every header it knows (Via, From, To,
// Contact, Route, Record-Route, Path, CSeq, Content-Length, the four auth headers,
// Authentication-Info, Refer-To) whether the caller reads them or not, and leaves
// URIs as strings. Ours is lazy. So that both sides parse the same, ours is made to
// parse every header npm sip structures (to the same depth or deeper), and npm sip's
// URIs of the Request-URI, From, To and Contact are parsed into parts like ours.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const npmSip = require('sip');
// BENCH_SIP_DIST: another build of @ngcp/sip (e.g. a copy of dist/ from an earlier commit), for before/after
export const ours = await import(process.env.BENCH_SIP_DIST ? join(process.env.BENCH_SIP_DIST, 'index.js') : join(here, '../packages/sip/dist/index.js'));

export const OUR_VIA = 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbench1';

// ---- routing: parse, and every header npm sip structures, parsed on both sides -----
function oursParse(buf) {
  const m = ours.parseMessage(buf);
  if (m.kind === 'request') m.requestUri();
  else m.status;
  m.vias(); m.from().uri; m.to().uri; m.callId(); m.cseq();
  if (m.has('contact')) m.contacts();
  m.routes(); m.recordRoutes();
  for (const h of m.headers) {
    switch (h.key) {
      case 'path': case 'refer-to': ours.parseNameAddr(h.value, h.key); break;
      case 'authorization': case 'proxy-authorization': case 'www-authenticate': case 'proxy-authenticate':
        ours.parseAuthHeader(h.value); break;
    }
  }
  return m;
}
// npm sip's parseUri answers undefined for a URI it cannot read (an IPv6 host, for
// one): that is a failure, not a fast parse, and makes the row "npm sip cannot parse it"
function npmUri(s) {
  const u = npmSip.parseUri(s);
  if (u === undefined) throw new Error('npm sip cannot parse a URI');
  return u;
}
function npmParse(buf) {
  const m = npmSip.parse(buf);
  if (m.method) m.uri = npmUri(m.uri);
  m.headers.from.uri = npmUri(m.headers.from.uri);
  m.headers.to.uri = npmUri(m.headers.to.uri);
  const c = m.headers.contact;
  if (Array.isArray(c)) for (const x of c) x.uri = npmUri(x.uri);
  for (const r of m.headers.route ?? []) if (r.uri === undefined) throw new Error('npm sip cannot parse a URI');
  for (const r of m.headers['record-route'] ?? []) if (r.uri === undefined) throw new Error('npm sip cannot parse a URI');
  return m;
}

// ---- forward: what a proxy does before sending the message on --------------------
// request: push its Via, decrement Max-Forwards (RFC 3261 §16.6 steps 3, 8);
// response: remove its own (the top) Via (§16.7 step 3). Then serialize.
function oursChange(m) {
  if (m.kind === 'request') {
    m.pushVia(OUR_VIA);
    const mf = m.maxForwards();
    if (mf !== undefined) m.set('max-forwards', String(mf - 1));
  } else m.popVia();
  return m;
}
function npmChange(m) {
  if (m.method) {
    m.headers.via.unshift({ version: '2.0', protocol: 'UDP', host: '10.0.0.1', port: 5060, params: { branch: 'z9hG4bKbench1' } });
    if (m.headers['max-forwards'] !== undefined) m.headers['max-forwards'] = +m.headers['max-forwards'] - 1;
  } else m.headers.via.shift();
  return m;
}

export const oursOut = (m) => m.toBuffer();
export const npmOut = (m) => Buffer.from(npmSip.stringify(m), 'binary');

/** [ours, npm sip] per work; each returns a number so the loop keeps a result. */
export const WORK = {
  routing: [(b) => oursParse(b).headers.length, (b) => Object.keys(npmParse(b).headers).length],
  forward: [(b) => oursOut(oursChange(oursParse(b))).length, (b) => npmOut(npmChange(npmParse(b))).length],
  // ours hands back the received bytes of an unchanged message (no copy, nothing
  // written); npm sip stringifies it: not the same work, shown for what it is
  'relay (zero-copy)': [(b) => oursOut(oursParse(b)).length, (b) => npmOut(npmParse(b)).length],
};

/** The outputs of the forward work, to check both sides did what the row claims. */
export function forwardOutputs(buf) {
  return [oursOut(oursChange(oursParse(buf))), npmOut(npmChange(npmParse(buf)))];
}
