import { execFile } from 'node:child_process';
import { McpAuthError, openStore, redact } from '../core';
import { readCache, removeCacheEntries } from '../core/cache/needsAuthCache';
import { login } from '../core/login';
import { logout } from '../core/logout';
import type { CliContext } from './commands';
import { duration } from './format';
import { netSettings, selectServers } from './refresh';
import { isConnectorName } from '../core/connectors';

/** Open a URL in the user's browser without a shell (execFile with the URL as one argument). */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): void {
  const [cmd, args] = env.BROWSER
    ? [env.BROWSER, [url]]
    : process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  try {
    const child = execFile(cmd, args as string[], { windowsHide: true }, () => {});
    child.on('error', () => {});
    child.unref();
  } catch {
    /* the URL is printed anyway */
  }
}

async function oneServer(ctx: CliContext) {
  if (ctx.names.length !== 1) throw new McpAuthError('usage', 'name exactly one server');
  const { all, chosen } = await selectServers(ctx, false);
  return { all, server: chosen[0] };
}

export async function runLogin(ctx: CliContext): Promise<number> {
  const { all, server } = await oneServer(ctx);
  const store = openStore(ctx.paths, { env: ctx.env });
  const timeoutS = ctx.values.timeout !== undefined ? Number(ctx.values.timeout) : 300;
  if (!Number.isFinite(timeoutS) || timeoutS <= 0)
    throw new McpAuthError('usage', '--timeout takes a number of seconds');
  const net = netSettings(ctx);
  const noBrowser = ctx.values['no-browser'] === true;
  if (noBrowser && ctx.values.device)
    throw new McpAuthError('usage', '--device and --no-browser are two different ways; pick one');
  let pasted: Promise<string> | undefined;
  const signIn = login(
    server,
    { paths: ctx.paths, store, logger: ctx.logger, allServers: all, env: ctx.env, httpTimeoutMs: net.httpTimeoutMs },
    {
      timeoutMs: timeoutS * 1000,
      onAuthorizationUrl: (url) => {
        if (noBrowser) {
          process.stderr.write(
            `Open this address in a browser on any machine and sign in to ${server.name}:\n${url}\n\nThen paste here the whole address the browser ended on (it may show an error page) and press Enter:\n`,
          );
        } else {
          process.stderr.write(`Sign in to ${server.name} in your browser:\n${url}\n`);
          if (!ctx.values['no-open']) openBrowser(url, ctx.env);
        }
      },
      pasted: noBrowser ? (pasted = readLine(process.stdin)) : undefined,
      newClient: ctx.values['new-client'] === true,
      device: ctx.values.device
        ? {
            onUserCode: (c) => {
              process.stderr.write(
                `To sign in to ${server.name}, open ${c.verificationUri} on any device and enter the code ${c.userCode}\n`,
              );
              if (c.verificationUriComplete) process.stderr.write(`(or open ${c.verificationUriComplete})\n`);
              process.stderr.write(`The code expires in ${duration(c.expiresInS * 1000)}. Waiting…\n`);
            },
          }
        : undefined,
    },
  );
  // the paste was read (or not needed after all): stdin must not keep the process alive either way
  const r = await signIn.finally(() => {
    if (pasted) process.stdin.destroy();
  });
  ctx.wrote = true;
  const exp = r.expiresAt ? `, expires in ${duration(r.expiresAt - Date.now())}` : '';
  ctx.out(
    r.result === 'adopted'
      ? `${server.name}: signed in by another process; using its token${exp}\n`
      : `${server.name}: signed in${exp}${r.registeredClient ? ' (new client registered)' : ''}${r.clearedCacheEntries.length ? `; cleared needs-auth entry ${r.clearedCacheEntries.join(', ')}` : ''}\n`,
  );
  return 0;
}

export async function runLogout(ctx: CliContext): Promise<number> {
  const { server } = await oneServer(ctx);
  const store = openStore(ctx.paths, { env: ctx.env });
  const net = netSettings(ctx);
  const r = await logout(
    server,
    { paths: ctx.paths, store, logger: ctx.logger, httpTimeoutMs: net.httpTimeoutMs, lockTimeoutMs: net.lockTimeoutMs },
    { revoke: !ctx.values['no-revoke'] },
  );
  if (!r.removed) {
    ctx.out(`${server.name}: no stored token\n`);
    return 0;
  }
  ctx.wrote = true;
  if (r.revokeError)
    process.stderr.write(
      redact(`mcp-auth: ${r.revokeError.code}: ${r.revokeError.message} (tokens removed locally)\n`),
    );
  ctx.out(
    `${server.name}: signed out${r.revoked.length ? ` (revoked ${r.revoked.join(' and ').replace(/_/g, ' ')})` : ''}\n`,
  );
  return r.revokeError ? 1 : 0;
}

export async function runInvalidate(ctx: CliContext): Promise<number> {
  const file = ctx.paths.needsAuthCacheFile;
  let match: (n: string) => boolean;
  if (ctx.values.all) {
    match = () => true;
  } else {
    if (ctx.names.length === 0)
      throw new McpAuthError('usage', 'name the servers whose needs-auth entries to clear, or pass --all');
    // claude.ai connectors (core/connectors.ts): exactly their own key, after the user signed in on claude.ai
    const names = new Set<string>(ctx.names.filter(isConnectorName));
    const others = ctx.names.filter((n) => !isConnectorName(n));
    // (with no name, selectServers would choose every server: only ask it for the names that are not connectors)
    if (others.length) {
      const { all, chosen } = await selectServers({ ...ctx, names: others }, false);
      for (const s of chosen) {
        names.add(s.name);
        if (s.url) for (const o of all) if (o.url === s.url) names.add(o.name);
      }
    }
    match = (n) => names.has(n);
  }
  await readCache(file); // a cache that is not valid JSON is reported, never rewritten
  const r = await removeCacheEntries(file, match, { at: ctx.now });
  ctx.wrote = r.written;
  if (ctx.values.json) ctx.out(JSON.stringify({ removed: r.removed }) + '\n');
  else {
    ctx.out(
      r.removed.length ? `removed needs-auth entries: ${r.removed.join(', ')}\n` : 'no needs-auth entries to remove\n',
    );
    const connectors = r.removed.filter(isConnectorName);
    if (connectors.length)
      ctx.out(
        `${connectors.join(', ')}: new Claude Code sessions will connect to claude.ai again (if the sign-in on claude.ai did not take, the next session writes the entry again); sessions already running keep what they read when they started — reconnect there: /mcp → the connector → Reconnect\n`,
      );
  }
  return 0;
}

/** The first line on stdin (the pasted address); stdin closed before a line → bad-callback. */
function readLine(input: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const i = buf.indexOf('\n');
      if (i >= 0) {
        done();
        resolve(buf.slice(0, i));
      }
    };
    const onEnd = () => {
      done();
      if (buf.trim()) resolve(buf);
      else reject(new McpAuthError('bad-callback', 'nothing was pasted (standard input closed)'));
    };
    const done = () => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}
