import { describe, expect, it } from 'vitest';
import { createResponse } from '../message/builders.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { parseMessage } from '../parser/parse.js';
import { createInDialogRequest, createUacDialog, createUasDialog, dialogIdOfIncoming, dialogKey, receiveInDialog, updateOnResponse } from './dialog.js';

const invite = parseMessage(Buffer.from([
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1',
  'Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKa0',
  'Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=ft1',
  'To: Bob <sip:bob@biloxi.example.com>',
  'Call-ID: c1@atlanta',
  'CSeq: 10 INVITE',
  'Contact: <sip:alice@192.0.2.9:5060>',
  'Content-Length: 0', '', ''].join('\r\n'))) as SipRequest;

function ok(contact = '<sip:bob@192.0.2.4:5070>', status = 200): SipResponse {
  const r = createResponse(invite, status, { toTag: 'tt1', copyRecordRoute: true });
  r.append('Contact', contact);
  return r;
}

describe('dialogs (RFC 3261 §12)', () => {
  it('UAS dialog: route set in Record-Route order, remote target from Contact, serialisable', () => {
    const d = createUasDialog(invite, ok(), 1000);
    expect(d.id).toEqual({ callId: 'c1@atlanta', localTag: 'tt1', remoteTag: 'ft1' });
    expect(d.routeSet).toEqual(['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>']);
    expect(d.remoteTarget).toBe('sip:alice@192.0.2.9:5060');
    expect(d.state).toBe('confirmed');
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('UAC dialog: route set reversed, early on 18x, confirmed by 2xx with target refresh', () => {
    const d = createUacDialog(invite, ok('<sip:bob@192.0.2.4:5070>', 180));
    expect(d.state).toBe('early');
    expect(d.routeSet).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    const c = updateOnResponse(d, ok('<sip:bob@192.0.2.44:5070>'));
    expect(c.state).toBe('confirmed');
    expect(c.remoteTarget).toBe('sip:bob@192.0.2.44:5070');
  });

  it('builds BYE within the dialog with loose routing, CSeq+1', () => {
    const d = createUacDialog(invite, ok());
    const { request, dialog } = createInDialogRequest(d, 'BYE', { via: { transport: 'udp', host: '192.0.2.9', port: 5060 } });
    expect(request.uri).toBe('sip:bob@192.0.2.4:5070');
    expect(request.getAll('route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(request.cseq()).toEqual({ seq: 11, method: 'BYE' });
    expect(request.from().tag).toBe('ft1');
    expect(request.to().tag).toBe('tt1');
    expect(dialog.localSeq).toBe(11);
    expect(dialog.state).toBe('terminated');
    // the built request parses back identically
    const again = parseMessage(request.toBuffer()) as SipRequest;
    expect(again.topVia()!.branch).toMatch(/^z9hG4bK/);
  });

  it('strict router: first route becomes the Request-URI, target appended', () => {
    const d = { ...createUacDialog(invite, ok()), routeSet: ['<sip:strict.example.com>', '<sip:p2.example.com;lr>'] };
    const { request } = createInDialogRequest(d, 'INFO', { via: { transport: 'udp', host: '192.0.2.9' } });
    expect(request.uri).toBe('sip:strict.example.com');
    expect(request.getAll('route')).toEqual(['<sip:p2.example.com;lr>', '<sip:bob@192.0.2.4:5070>']);
  });

  it('rejects a lower remote CSeq with 500 and tracks the ID of incoming messages', () => {
    const d = createUasDialog(invite, ok());
    const bye = parseMessage(Buffer.from(['BYE sip:bob@192.0.2.4:5070 SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKb', 'From: <sip:alice@atlanta.example.com>;tag=ft1', 'To: <sip:bob@biloxi.example.com>;tag=tt1', 'Call-ID: c1@atlanta', 'CSeq: 9 BYE', 'Content-Length: 0', '', ''].join('\r\n'))) as SipRequest;
    expect(receiveInDialog(d, bye)).toEqual({ ok: false, status: 500, reason: 'CSeq lower than the last one received' });
    expect(dialogKey(dialogIdOfIncoming(bye)!)).toBe(dialogKey(d.id));
  });
});
