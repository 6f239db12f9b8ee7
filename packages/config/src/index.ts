/**
 * @ngcp/config — the config framework: schema, loading with overlays and provenance,
 * validation errors naming file/key/line, template rendering, service definitions for
 * pm2. See README.md.
 */
export { configSchema, partialSchema, INTERFACE_TYPES } from './schema.js';
export type * from './schema.js';

export { ConfigError, CONFIG_ERRORS, formatIssue } from './errors.js';
export type { ConfigIssue, ConfigErrorCode } from './errors.js';

export { loadConfig, mergeLayers, BASE_FILES, pairOverlay, nodeOverlay } from './load.js';
export type { LoadOptions, LoadedConfig, Origin } from './load.js';

export { parseKeyPath, formatKeyPath, getIn, fromJsonPointer, isPlainObject } from './keypath.js';

export { createConfigAjv, schemaIssues, translateAjvError, describeValue, deepFreeze, isIpOrCidr } from './schema-issues.js';
export type { KeyPath } from './keypath.js';

export { parseYamlText, readYamlFile, issueAt } from './yaml-source.js';
export type { YamlSource, ParseResult } from './yaml-source.js';

export { nodeAddresses, interfaceOfType } from './network.js';
export type { NodeAddresses } from './network.js';

export { listeners, portClashes } from './ports.js';
export { proxyWorkerCount } from './workers.js';
export type { Listener, PortClash } from './ports.js';

export { nodePaths } from './paths.js';
export type { NodePaths } from './paths.js';

export { loadTemplates, parseTemplate, renderTemplate } from './template.js';
export { quote } from './quote.js';
export type { Quoters } from './quote.js';
export type { TemplateFile, ServiceAction } from './template.js';

export { serviceSpecs, DAEMONS, INFRA_ORDER, SIP_DAEMON_NODE_ARGS } from './ecosystem.js';
export type { ServiceSpec, HealthCheck, Pm2App, Binaries, EcosystemInput } from './ecosystem.js';

export { renderNode, mysqlSocketPath, planBuild, writeBuild, readManifest, readServiceSpecs } from './build.js';
export type { RenderedFile, RenderOptions, BuildPlan, Manifest, ManifestEntry, TemplateContext } from './build.js';

export { initConfigDir, addMissingSecrets, fillSecrets, generateSecret, protectSecrets, GENERATE, SECRETS_FILE } from './init.js';
export { loadServiceConfig, serviceConfigEnvVar } from './service-config.js';
export { setKeyInYaml, parseValue, toYaml } from './edit.js';
