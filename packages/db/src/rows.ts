/**
 * Row types, exactly as mysql2 returns them (BOOLEAN columns come back as 0/1, DATETIME as Date).
 * The table name of each is in the comment.
 */
import type { CALL_TYPES } from './migrations/0010-call-type-voicemail.js';

export type Status = 'active' | 'locked' | 'terminated';
export type Flag = 0 | 1;

/** resellers */
export interface ResellerRow { id: number; name: string; status: Status; created_at: Date; updated_at: Date }

/** domains */
export interface DomainRow { id: number; domain: string; description: string | null; created_at: Date; updated_at: Date }

/** customers */
export interface CustomerRow {
  id: number; reseller_id: number | null; external_id: string | null; name: string; email: string | null;
  status: Status; concurrent_max: number | null; concurrent_max_out: number | null; created_at: Date; updated_at: Date;
}

/** subscribers */
export interface SubscriberRow {
  id: number; uuid: string; domain_id: number; customer_id: number | null; username: string;
  ha1_md5: string; ha1_sha256: string; webpassword_hash: string | null;
  display_name: string | null; external_id: string | null; status: Status; created_at: Date; updated_at: Date;
}

/** numbers */
export interface NumberRow {
  id: number; e164: string; subscriber_id: number | null; is_primary: Flag; primary_subscriber_id: number | null;
  created_at: Date; updated_at: Date;
}

export type ApiRole = 'admin' | 'reseller' | 'subscriber';

/** api_users */
export interface ApiUserRow {
  id: number; login: string; password_hash: string; role: ApiRole; reseller_id: number | null;
  subscriber_id: number | null; is_active: Flag; created_at: Date; updated_at: Date;
}

/** api_tokens */
export interface ApiTokenRow { id: number; api_user_id: number; token_hash: string; name: string | null; expires_at: Date | null; created_at: Date }

export type JournalOp = 'create' | 'update' | 'delete';

/** journal */
export interface JournalRow {
  id: number; created_at: Date; api_user_id: number | null; login: string; role: string; remote_addr: string | null;
  entity: string; entity_id: string; op: JournalOp; content: string | null;
}

/** rewrite_rule_sets */
export interface RewriteRuleSetRow { id: number; name: string; description: string | null; created_at: Date; updated_at: Date }

/** rewrite_rules */
export interface RewriteRuleRow {
  id: number; set_id: number; direction: 'in' | 'out'; field: 'caller' | 'callee';
  match_pattern: string; replace_pattern: string; description: string | null; priority: number; enabled: Flag;
  created_at: Date; updated_at: Date;
}

/** ncos_levels */
export interface NcosLevelRow { id: number; level: string; description: string | null; default_action: 'allow' | 'deny'; created_at: Date; updated_at: Date }

/** ncos_patterns */
export interface NcosPatternRow { id: number; level_id: number; prefix: string; action: 'allow' | 'deny'; description: string | null }

/** peering_groups */
export interface PeeringGroupRow { id: number; name: string; priority: number; description: string | null; created_at: Date; updated_at: Date }

export type Transport = 'udp' | 'tcp' | 'tls';

/** peering_servers */
export interface PeeringServerRow {
  id: number; group_id: number; name: string; host: string; port: number; transport: Transport; weight: number;
  probe: Flag; enabled: Flag;
  /** digest credentials towards the server (migration 0007); NULL: its challenges are not answered */
  auth_username: string | null; auth_password: string | null;
  /** answer only challenges of this realm; NULL: any */
  auth_realm: string | null;
  /** outbound registration (migration 0009): on/off, the Expires asked for, AoR user/domain and Contact user (NULL = the defaults, docs/routing.md) */
  register_enable: Flag; register_expires_s: number;
  register_user: string | null; register_domain: string | null; register_contact_user: string | null;
  created_at: Date; updated_at: Date;
}

/** peering_rules */
export interface PeeringRuleRow {
  id: number; group_id: number; callee_prefix: string; caller_pattern: string | null; callee_pattern: string | null;
  description: string | null; enabled: Flag; created_at: Date; updated_at: Date;
}

export type CallForwardType = 'cfu' | 'cfb' | 'cfna' | 'cft';

/** call_forwards */
export interface CallForwardRow {
  id: number; subscriber_id: number; type: CallForwardType; position: number;
  destination_type: 'number' | 'voicemail' | 'uri'; destination: string | null; ring_timeout: number | null; enabled: Flag;
  created_at: Date; updated_at: Date;
}

export type PreferenceType = 'boolean' | 'int' | 'string' | 'enum';
export type PreferenceLevel = 'domain' | 'customer' | 'subscriber' | 'peer';

/** preference_defs */
export interface PreferenceDefRow {
  id: number; attribute: string; description: string | null; data_type: PreferenceType; enum_values: string | null;
  max_occur: number; dom_pref: Flag; cust_pref: Flag; sub_pref: Flag; peer_pref: Flag; ref_table: string | null;
}

/** domain_preferences / customer_preferences / subscriber_preferences / peer_preferences */
export interface PreferenceValueRow { id: number; attribute_id: number; value: string }

/** acc/cdrs `call_type`: `call`, the forwards (0004), `voicemail` (0010) */
export type CallType = (typeof CALL_TYPES)[number];
export type CallStatus = 'ok' | 'busy' | 'noanswer' | 'cancel' | 'offline' | 'timeout' | 'other';

/** acc */
export interface AccRow {
  id: number; method: string; kind: AccKind; callid: string; from_tag: string; to_tag: string; sip_code: string; sip_reason: string; time: Date;
  /** when the INVITE arrived (migration 0006); NULL on older rows */
  init_time: Date | null;
  src_user: string | null; src_domain: string | null; src_ip: string | null; dst_user: string | null; dst_domain: string | null;
  dst_ouser: string | null; src_subscriber_id: number | null; dst_subscriber_id: number | null; peering_server_id: number | null;
  call_type: CallType; mediated: Flag;
}

/** acc.kind: what the row records (migration 0005) */
export type AccKind = 'start' | 'stop' | 'failure';

/** cdrs */
export interface CdrRow {
  id: number; call_id: string;
  source_subscriber_id: number | null; source_customer_id: number | null; source_user: string; source_domain: string;
  source_cli: string; source_ip: string; source_peer_id: number | null;
  destination_subscriber_id: number | null; destination_customer_id: number | null; destination_user: string;
  destination_domain: string; destination_user_in: string; destination_peer_id: number | null;
  call_type: CallType; call_status: CallStatus; call_code: string; init_time: Date; start_time: Date | null; duration: number;
}

/** voicemail_boxes */
export interface VoicemailBoxRow {
  id: number; subscriber_id: number; pin_hash: string | null; email: string | null; attach: Flag; delete_after_email: Flag;
  created_at: Date; updated_at: Date;
}

export type VoicemailFolder = 'INBOX' | 'Old' | 'Work' | 'Family' | 'Friends' | 'Cheers';

/** voicemail_messages */
export interface VoicemailMessageRow {
  id: number; box_id: number; folder: VoicemailFolder; caller: string; duration: number; received_at: Date;
  is_read: Flag; audio_format: string; audio: Buffer | null;
}
