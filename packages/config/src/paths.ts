/**
 * The layout of a node root. On an appliance the root is `/`; from a checkout
 * (`./ngcp up`) it is the checkout itself; tests and the lab use one directory per node.
 *
 *   <root>/etc/ngcp-config/     the config repo (git history): config.yml network.yml constants.yml overlays
 *   <root>/etc/ngcp-node        this node's name (a host of network.yml)
 *   <root>/etc/…                the rendered tree (templates/etc/… → etc/…)
 *   <root>/var/lib/ngcpcfg/     manifest of rendered files (hash, services)
 *   <root>/var/pm2/             PM2_HOME of this node's supervisor
 *   <root>/var/data/<service>/  MariaDB, Redis, rtpengine data
 *   <root>/var/log/ var/run/    logs, sockets and pm2 start files
 *   <root>/var/api.env          API_URL, API_USER, API_PASS
 */
import { join, resolve } from 'node:path';

export interface NodePaths {
  root: string;
  configDir: string;
  nodeFile: string;
  etc: string;
  state: string;
  manifest: string;
  pm2Home: string;
  data: string;
  log: string;
  run: string;
  apiEnv: string;
}

export function nodePaths(root: string): NodePaths {
  const r = resolve(root);
  return {
    root: r,
    configDir: join(r, 'etc/ngcp-config'),
    nodeFile: join(r, 'etc/ngcp-node'),
    etc: join(r, 'etc'),
    state: join(r, 'var/lib/ngcpcfg'),
    manifest: join(r, 'var/lib/ngcpcfg/manifest.json'),
    pm2Home: join(r, 'var/pm2'),
    data: join(r, 'var/data'),
    log: join(r, 'var/log'),
    run: join(r, 'var/run'),
    apiEnv: join(r, 'var/api.env'),
  };
}
