/**
 * Message waiting indication (RFC 3842): an unsolicited NOTIFY `Event: message-summary` to
 * the box owner's AoR, sent to the proxy's internal SIP address, which relays it to the
 * owner's registered devices (as sip:provider does: no SUBSCRIBE, no Subscription-State).
 * It goes out as a non-INVITE client transaction of the SIP stack, which retransmits and
 * times out (64·T1) by itself: one NOTIFY per change, never a retry loop.
 */
import type { Logger } from '@ngcp/daemon';
import type { Knex } from '@ngcp/db';
import { findVoicemailOwner, voicemailCounts, type VoicemailCounts } from '@ngcp/db';
import type { Destination, SipStack } from '@ngcp/sip';
import { newBranch, newCallId, newTag, SipRequest } from '@ngcp/sip';
import type { AppserverMetrics } from './metrics.js';

/** The body of RFC 3842 §5.2: `Messages-Waiting`, the account, `Voice-Message: new/old`. */
export function messageSummary(counts: VoicemailCounts, domain: string): string {
  return [`Messages-Waiting: ${counts.new > 0 ? 'yes' : 'no'}`, `Message-Account: sip:voicebox@${domain}`, `Voice-Message: ${counts.new}/${counts.old}`, ''].join('\r\n');
}

export type MwiResult = 'ok' | 'rejected' | 'timeout' | 'no_subscriber' | 'no_proxy' | 'error';

export interface MwiOptions {
  db: Knex;
  /** Where the NOTIFY goes: the proxy's internal SIP listener (null: MWI is not sent). */
  proxy: Destination | null;
  self: () => { address: string; port: number };
  sip: () => SipStack;
  logger: Logger;
  metrics: AppserverMetrics;
}

export interface MwiSent {
  subscriber_id: number;
  result: MwiResult | 'sent';
  new?: number;
  old?: number;
  /** The proxy's final answer (the status, or the local 408 of a timeout); undefined when nothing was sent. */
  answer?: Promise<MwiResult>;
}

export class Mwi {
  private readonly log: Logger;

  constructor(private readonly o: MwiOptions) {
    this.log = o.logger.child({ component: 'mwi' });
  }

  /** Reads the box's counts and sends the NOTIFY; resolves when it is sent (`answer` resolves with the proxy's final answer). Never throws. */
  async notify(subscriberId: number): Promise<MwiSent> {
    const done = (result: MwiResult, extra: Partial<MwiSent> = {}): MwiSent => {
      this.o.metrics.mwi.inc({ result });
      return { subscriber_id: subscriberId, result, ...extra };
    };
    if (!this.o.proxy) return done('no_proxy');
    let owner: Awaited<ReturnType<typeof findVoicemailOwner>>;
    let counts: VoicemailCounts;
    try {
      owner = await findVoicemailOwner(this.o.db, subscriberId);
      if (!owner) {
        this.log.info({ subscriberId }, 'MWI for no such subscriber; nothing sent');
        return done('no_subscriber');
      }
      counts = await voicemailCounts(this.o.db, subscriberId);
    } catch (err) {
      this.log.error({ subscriberId, err: (err as Error).message }, 'MWI not sent: the database did not answer');
      return done('error');
    }
    const self = this.o.self();
    const aor = `sip:${owner.username}@${owner.domain}`;
    const req = new SipRequest('NOTIFY', aor, [
      ['Via', `SIP/2.0/UDP ${self.address}:${self.port};branch=${newBranch()}`], ['Max-Forwards', '70'],
      ['From', `<sip:voicebox@${owner.domain}>;tag=${newTag()}`], ['To', `<${aor}>`], ['Call-ID', newCallId(self.address)], ['CSeq', '1 NOTIFY'],
      ['Contact', `<sip:voicebox@${self.address}:${self.port}>`], ['Event', 'message-summary'], ['User-Agent', 'ngcp-appserver'],
    ]);
    req.setBody(messageSummary(counts, owner.domain), 'application/simple-message-summary');
    const answer = new Promise<MwiResult>((resolve) => {
      try {
        this.o.sip().sendRequest(req, this.o.proxy!, {
          onFinal: (res, _tx, origin) => {
            const result: MwiResult = origin === 'timeout' ? 'timeout' : origin === 'transport-error' ? 'error' : res.status < 300 ? 'ok' : 'rejected';
            this.o.metrics.mwi.inc({ result });
            if (result === 'ok') this.log.debug({ subscriberId, aor, ...counts }, 'MWI taken');
            else this.log.info({ subscriberId, aor, status: res.status, origin, ...counts }, 'MWI not delivered (no device took it)');
            resolve(result);
          },
        });
      } catch (err) {
        this.log.warn({ subscriberId, err: (err as Error).message }, 'MWI NOTIFY not sent');
        this.o.metrics.mwi.inc({ result: 'error' });
        resolve('error');
      }
    });
    return { subscriber_id: subscriberId, result: 'sent', new: counts.new, old: counts.old, answer };
  }
}
