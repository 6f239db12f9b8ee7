/**
 * The config history: the config dir is a git repository; each `ngcpcfg apply "msg"`
 * is one commit with the operator's message. The peer is the git remote `peer`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export class GitError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

export interface LogEntry {
  sha: string;
  date: string;
  subject: string;
}

const ENV = {
  GIT_AUTHOR_NAME: 'ngcpcfg',
  GIT_AUTHOR_EMAIL: 'ngcpcfg@localhost',
  GIT_COMMITTER_NAME: 'ngcpcfg',
  GIT_COMMITTER_EMAIL: 'ngcpcfg@localhost',
  GIT_TERMINAL_PROMPT: '0',
};

export class ConfigRepo {
  constructor(readonly dir: string) {}

  async git(args: string[], opts: { allowFail?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await execFileP('git', ['-C', this.dir, ...args], { env: { ...process.env, ...ENV }, maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string; message: string };
      if (opts.allowFail) return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
      throw new GitError(`git ${args[0]} failed: ${(x.stderr ?? x.message).trim().split('\n').slice(-3).join(' ')}`, x.stderr ?? '');
    }
  }

  exists(): boolean {
    return existsSync(join(this.dir, '.git'));
  }

  async init(): Promise<void> {
    if (this.exists()) return;
    await this.git(['init', '-q', '-b', 'master']);
    await this.git(['config', 'receive.denyCurrentBranch', 'refuse']);
  }

  /** Stages everything; commits if anything changed. Returns the new commit, or null. */
  async commitAll(message: string): Promise<string | null> {
    await this.git(['add', '-A']);
    const st = await this.git(['status', '--porcelain']);
    if (!st.stdout.trim()) return null;
    await this.git(['commit', '-q', '-m', message]);
    return this.head();
  }

  async head(): Promise<string | null> {
    const r = await this.git(['rev-parse', '--verify', '-q', 'HEAD'], { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : null;
  }

  /** Uncommitted changes (porcelain lines). */
  async dirty(): Promise<string[]> {
    const r = await this.git(['status', '--porcelain']);
    return r.stdout.split('\n').filter(Boolean);
  }

  async diff(): Promise<string> {
    await this.git(['add', '-A', '-N']);
    return (await this.git(['diff', 'HEAD', '--'], { allowFail: true })).stdout;
  }

  async log(n: number): Promise<LogEntry[]> {
    const r = await this.git(['log', `-${n}`, '--format=%H%x09%cI%x09%s'], { allowFail: true });
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [sha = '', date = '', ...s] = l.split('\t');
        return { sha, date, subject: s.join('\t') };
      });
  }

  async resolve(rev: string): Promise<string | null> {
    const r = await this.git(['rev-parse', '--verify', '-q', `${rev}^{commit}`], { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : null;
  }

  /** Makes the working tree equal to `rev`'s tree (tracked files), without moving HEAD. */
  async restoreTree(rev: string): Promise<void> {
    await this.git(['read-tree', '-u', '--reset', rev]);
    // files added since rev are untracked now: remove them so the tree matches exactly
    await this.git(['clean', '-q', '-f', '-d']);
  }

  async isAncestor(a: string, b: string): Promise<boolean> {
    return (await this.git(['merge-base', '--is-ancestor', a, b], { allowFail: true })).code === 0;
  }

  async remoteUrl(name: string): Promise<string | null> {
    const r = await this.git(['remote', 'get-url', name], { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : null;
  }

  async setRemote(name: string, url: string): Promise<void> {
    if ((await this.remoteUrl(name)) === null) await this.git(['remote', 'add', name, url]);
    else await this.git(['remote', 'set-url', name, url]);
  }

  async getConfig(key: string): Promise<string | null> {
    const r = await this.git(['config', '--get', key], { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : null;
  }

  async setConfig(key: string, value: string): Promise<void> {
    await this.git(['config', key, value]);
  }
}
