/** Every resource of the API, registered in one place (the order is the OpenAPI order). */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { apiUsers, tokens } from './access.js';
import { billingFees, billingProfiles, customerBalances } from './billing.js';
import { callForwards } from './callforwards.js';
import { customers, resellers } from './customers.js';
import { domains } from './domains.js';
import { apiBans, bannedIps, bannedUsers, calls, registrations } from './live.js';
import { registerMetrics } from './metrics-route.js';
import { numbers } from './numbers.js';
import { customerPreferences, domainPreferences, peeringServerPreferences, preferenceDefs, subscriberPreferences } from './preferences.js';
import { cdrs, journal, registerCdrExport } from './records.js';
import { registerResource } from './register.js';
import type { Item, Resource } from './resource.js';
import { ncosLevels, peeringGroups, peeringRules, peeringServers, rewriteRules, rewriteRuleSets } from './routing.js';
import { subscribers } from './subscribers.js';
import { registerVoicemailRecording, voicemails } from './voicemails.js';
import { voicemailSettings } from './voicemailsettings.js';

export const RESOURCES = [
  domains, customers, subscribers, numbers, billingProfiles, billingFees, customerBalances,
  subscriberPreferences, domainPreferences, customerPreferences, peeringServerPreferences, preferenceDefs,
  callForwards, rewriteRuleSets, rewriteRules, ncosLevels, peeringGroups, peeringServers, peeringRules,
  cdrs, voicemails, voicemailSettings, journal,
  registrations, calls, bannedIps, bannedUsers, apiBans,
  resellers, apiUsers, tokens,
] as unknown as readonly Resource<Item>[];

export function registerAll(app: FastifyInstance, services: Services): void {
  for (const r of RESOURCES) registerResource(app, services, r);
  registerVoicemailRecording(app, services);
  registerCdrExport(app, services);
  registerMetrics(app, services);
}
