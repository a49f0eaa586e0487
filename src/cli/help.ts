/** The CLI's help: one line a command for `mcp-auth --help`, and a page a command for `mcp-auth COMMAND --help`. */

interface CommandHelp {
  summary: string;
  usage: string;
  body: string;
  examples: string[];
  exit: string;
}

export const COMMAND_HELP: Record<string, CommandHelp> = {
  status: {
    summary: 'the auth state of every MCP server Claude Code would load here',
    usage: 'mcp-auth status [NAME...] [--json] [--cwd DIR]',
    body: 'One row per server (user, local, project, managed and plugin scope) with its state and the fix for\nthose that need one; with NAMEs, those servers only (an unknown name is unknown-server). With --json, files\nthat cannot be read or parsed are in "errors". Reads only.',
    examples: ['mcp-auth status', 'mcp-auth status --json | jq \'.servers[] | select(.state != "signed-in")\''],
    exit: '0 all usable; 1 a server needs sign-in, is blocked by a stale needs-auth entry, a file cannot be read, or a NAME is unknown',
  },
  refresh: {
    summary: "refresh tokens through Claude Code's own lock (one refresh per rotation, however many processes race)",
    usage: 'mcp-auth refresh [NAME...|--all] [--force] [--json]',
    body: 'Refreshes a token that is due (expired, or inside the refresh window), or every one with --force. A\nprocess that finds another one refreshing waits and adopts its token instead of sending the refresh token again.\nWith no NAME, every signed-in remote server.',
    examples: ['mcp-auth refresh', 'mcp-auth refresh linear --force', 'mcp-auth refresh --json'],
    exit: '0 refreshed, adopted or still fresh; 1 a refresh failed; 3 timed out waiting for the lock',
  },
  login: {
    summary: 'sign in to a server in the browser; every Claude Code process uses the token at once',
    usage: 'mcp-auth login NAME [--no-open | --no-browser | --device] [--new-client] [--timeout S]',
    body: "Authorization code + PKCE with a loopback callback on 127.0.0.1; the URL is printed on stderr (and opened\nunless --no-open). Where the browser cannot reach this machine (SSH, a container): --no-browser prints the URL\nand reads the address the browser ended on from stdin; --device uses the device flow (RFC 8628) when the\nserver offers it: open a URL anywhere and type a code. --new-client forgets a stored client registration the\nserver rejected (invalid_client) and registers anew. The token is stored where Claude Code reads it and the\nserver's needs-auth entry removed.",
    examples: [
      'mcp-auth login linear',
      'mcp-auth login linear --no-browser',
      'mcp-auth login linear --device --timeout 600',
    ],
    exit: "0 signed in (or another process's sign-in finished first); 1 failed or timed out",
  },
  logout: {
    summary: "revoke a server's tokens (RFC 7009) and remove them for every process",
    usage: 'mcp-auth logout NAME [--no-revoke]',
    body: "Waits for a refresh of that server under way, so a sign-out is never undone by it. Removes only that\nserver's entry; --no-revoke skips the revocation request.",
    examples: ['mcp-auth logout linear', 'mcp-auth logout linear --no-revoke'],
    exit: '0 signed out (revocation failures are reported on stderr); 1 failed',
  },
  invalidate: {
    summary: 'clear needs-auth cache entries so new Claude Code sessions connect again',
    usage: 'mcp-auth invalidate [NAME...|--all]',
    body: "Removes entries from Claude Code's needs-auth cache (mcp-needs-auth-cache.json), which make new sessions\nskip a server for up to 15 min (4 h for plugin servers) even when a good token is stored. For a claude.ai\nconnector (4 h), clear it after signing it in again on claude.ai: only its key goes; new sessions retry it,\nsessions already running keep what they read at start.",
    examples: ['mcp-auth invalidate linear', 'mcp-auth invalidate "claude.ai GitHub"', 'mcp-auth invalidate --all'],
    exit: '0 done (also when there was nothing to clear); 1 the cache file cannot be read or written',
  },
  watch: {
    summary: 'the background keeper: refresh before expiry and unblock stale needs-auth entries, for every process',
    usage: 'mcp-auth watch [--json] [--once]',
    body: "Watches Claude Code's files and keeps them honest until SIGINT/SIGTERM: refreshes tokens that fall due\n(through Claude Code's lock), and removes a needs-auth entry when the server accepts the stored token or the token\nchanged after the entry was written. One line per action (unblocked, refreshed, adopted, kept, failed); --json\nprints one JSON object per line. --once makes one pass and exits: for cron, CI, or a wrapper of SDK processes. Stopped by a signal, it exits\n128 + its number (130 for Ctrl-C, 143 for SIGTERM), once a refresh under way is stored.",
    examples: ['mcp-auth watch', 'mcp-auth watch --once && my-agent-sdk-job', 'mcp-auth watch --json | jq -c .'],
    exit: '0 stopped by SIGINT/SIGTERM, or (--once) nothing it could fix is left; 1 (--once) a server is still blocked or a refresh failed',
  },
  doctor: {
    summary: 'why each server is in its state; file, lock and leftover checks',
    usage: 'mcp-auth doctor [NAME] [--json] [--probe]',
    body: "Which config file, which credential entry, expiry, needs-auth entry age against its TTL, the lock holder,\nwhat was odd in the last token answer, what `mcp-auth watch` did and why it keeps an entry; the store's mode,\nstale locks, files left by interrupted runs; the Claude Code versions in play (claude --version, running\nsessions) and whether our formats are verified for them. --probe asks each blocked server now whether it accepts the token.",
    examples: ['mcp-auth doctor', 'mcp-auth doctor linear', 'mcp-auth doctor --json > report.json'],
    exit: '0 nothing wrong; 1 a server needs attention or a check failed',
  },
};

const GLOBAL = `Global options:
  --config-dir DIR   Claude Code's config dir (default: $CLAUDE_CONFIG_DIR, else ~/.claude)
  --cwd DIR          the project folder whose servers to show (default: the current folder)
  --verbose          log what happens on stderr (tokens are always redacted)
  --help, --version`;

export function mainHelp(): string {
  const names = Object.keys(COMMAND_HELP);
  const width = Math.max(...names.map((n) => n.length));
  return `mcp-auth: the OAuth state of Claude Code's MCP servers, for every process on this machine

Usage: mcp-auth COMMAND [options]     (mcp-auth COMMAND --help for one command)

Commands:
${names.map((n) => `  ${n.padEnd(width)}  ${COMMAND_HELP[n].summary}`).join('\n')}

${GLOBAL}
`;
}

export function commandHelp(name: string): string | undefined {
  const h = Object.prototype.hasOwnProperty.call(COMMAND_HELP, name) ? COMMAND_HELP[name] : undefined;
  if (!h) return undefined;
  return `${h.usage}

${h.summary[0].toUpperCase()}${h.summary.slice(1)}.
${h.body}

Examples:
${h.examples.map((e) => `  ${e}`).join('\n')}

Exit codes: ${h.exit}; 2 usage error.

${GLOBAL}
`;
}
