/** Load, check and render a node's config in memory (nothing written). */
import { loadConfig, renderNode, type LoadedConfig, type RenderedFile, type ServiceSpec, type TemplateContext } from '@ngcp/config';
import { builtApps, findBinaries, type NodeContext } from './node.js';

export interface Rendered {
  loaded: LoadedConfig;
  files: RenderedFile[];
  specs: ServiceSpec[];
  context: TemplateContext;
}

/** Throws ConfigError (with file/key/line issues) when the config or a template is bad. */
export function renderFor(ctx: NodeContext, configDir = ctx.paths.configDir): Rendered {
  const loaded = loadConfig({ configDir, node: ctx.node });
  const r = renderNode({
    loaded,
    paths: ctx.paths,
    templateDirs: configDir === ctx.paths.configDir ? ctx.templateDirs : [ctx.templateDirs[0]!, `${configDir}/templates`],
    apps: builtApps(ctx.appsDir),
    bins: findBinaries(ctx.env),
    nodeBin: process.execPath,
    cwd: ctx.checkout,
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
  });
  return { loaded, ...r };
}
