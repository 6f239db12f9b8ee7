/**
 * What a UAS does with a CANCEL (RFC 3261 §9.2). The transaction layer uses this
 * when the TU has no `onCancel` hook; a TU with its own hook can call it too.
 */
import { createResponse } from '../message/builders.js';
import { newTag } from '../message/ids.js';
import type { SipRequest } from '../message/message.js';
import type { IstState } from './invite-server.js';
import type { ServerTransaction } from './transaction.js';

/**
 * 481 to a CANCEL matching nothing; otherwise 200 to the CANCEL and, while the INVITE
 * has no final response yet, either `inviteTx.user.onCancel` (the TU answers) or a
 * 487 to the INVITE. The 200 and the 487 carry the To tag of the INVITE's last
 * provisional response, or one new tag.
 */
export function answerCancel(cancel: SipRequest, cancelTx: ServerTransaction, inviteTx: ServerTransaction | undefined): void {
  // §9.2: "If the UAS did not find a transaction for the CANCEL request, it SHOULD
  // respond to the CANCEL with a 481 (Call Leg/Transaction Does Not Exist)."
  if (inviteTx === undefined || inviteTx.kind !== 'ist') {
    cancelTx.respond(createResponse(cancel, 481, { toTag: newTag() }));
    return;
  }
  // §9.2: "Regardless of the method of the original request, as long as the CANCEL
  // matched an existing transaction, the UAS answers the CANCEL request itself with a
  // 200 (OK) response." "The To tag of the response to the CANCEL and the To tag in the
  // response to the original request SHOULD be the same."
  const state = inviteTx.machine as IstState;
  const toTag = (state.name === 'Proceeding' ? state.provisional?.to().tag : undefined) ?? newTag();
  cancelTx.respond(createResponse(cancel, 200, { toTag }));
  // §9.2: "If the transaction for the original request still exists ... [and] the UAS has
  // not issued a final response for the original request ... the UAS ... SHOULD respond to
  // the INVITE with a 487 (Request Terminated)."
  if (state.name !== 'Proceeding') return;
  if (inviteTx.user?.onCancel) inviteTx.user.onCancel(cancel, inviteTx);
  else if (inviteTx.request !== undefined) inviteTx.respond(createResponse(inviteTx.request, 487, { toTag }));
}
