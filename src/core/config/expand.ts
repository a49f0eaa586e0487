/** Claude Code's `${VAR}` / `${VAR:-default}` expansion. Unknown variables without a default stay as written. */
export function expandVars(value: string, env: NodeJS.ProcessEnv, missing?: Set<string>): string {
  return value.replace(/\$\{([^}:]+)(?::-([^}]*))?\}/g, (whole, name: string, def: string | undefined) => {
    const v = env[name];
    if (v !== undefined) return v;
    if (def !== undefined) return def;
    missing?.add(name);
    return whole;
  });
}
