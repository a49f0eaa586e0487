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

/** Config files that exist but could not be read or parsed (never the same as "no configuration found"). */
export function brokenConfigFiles(model: AuthModel): { file: string; code: string }[] {
  const out: { file: string; code: string }[] = [];
  for (const i of model.issues)
    if ((i.code === 'config-parse' || i.code === 'config-read') && i.file && !out.some((o) => o.file === i.file))
      out.push({ file: i.file, code: i.code });
  return out;
}
