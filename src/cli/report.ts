import { redact, type AuthModel } from '../core';

/** Problems found while reading Claude Code's files, one `mcp-auth: <code>: …` line each on stderr. */
export function printIssues(model: AuthModel): void {
  for (const i of model.issues) process.stderr.write(redact(`mcp-auth: ${i.code}: ${i.message}\n`));
  for (const r of model.servers) {
    if (r.status.state === 'error' && r.status.reason === 'entry-invalid') {
      process.stderr.write(
        redact(`mcp-auth: ${r.status.code}: ${r.config.name}: the stored entry is malformed (${r.status.message})\n`),
      );
    }
  }
}
