/**
 * Logger + redact(). Every line any part of the product logs, prints or shows goes through redact():
 * it replaces every secret this process has seen (registered with rememberSecret) and anything that looks
 * like a token in the usual places (JSON fields, form bodies, Authorization headers, JWTs).
 */
const secrets = new Map<string, true>();
/** rotated away lately: still hidden for a while (an error that echoes the token just spent), then dropped */
const retired = new Map<string, true>();

/**
 * At most this many remembered secrets (issue 22: a long-running keeper remembered every token it ever saw, and
 * every log line scanned them all). Past it the one remembered least recently is dropped: by then it has been
 * rotated away long ago, and the patterns below still cover the places a token is written.
 */
export const MAX_REMEMBERED_SECRETS = 256;
/** how many rotated-away secrets are still hidden */
export const MAX_RETIRED_SECRETS = 16;

/** Register a secret value (access/refresh token, client secret, code, verifier) so redact() hides it. */
export function rememberSecret(value: unknown): void {
  if (typeof value !== 'string' || value.length < 6) return;
  retired.delete(value);
  secrets.delete(value); // most recent last
  secrets.set(value, true);
  if (secrets.size > MAX_REMEMBERED_SECRETS) secrets.delete(secrets.keys().next().value!);
}

/**
 * A secret that is no longer live: rotated away (replaced in the store by its successor) or removed. It stays
 * hidden among the last MAX_RETIRED_SECRETS retired ones, then is not scanned for any more.
 */
export function forgetSecret(value: unknown): void {
  if (typeof value !== 'string' || !secrets.delete(value)) return;
  retired.set(value, true);
  if (retired.size > MAX_RETIRED_SECRETS) retired.delete(retired.keys().next().value!);
}

/** How many secrets redact() scans for: live, and rotated away lately (for tests). */
export function rememberedSecrets(): { live: number; retired: number } {
  return { live: secrets.size, retired: retired.size };
}

const SECRET_FIELDS = [
  'accessToken',
  'refreshToken',
  'clientSecret',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'code',
  'code_verifier',
  'token',
  'password',
  'assertion',
];
const jsonField = new RegExp(`("(?:${SECRET_FIELDS.join('|')})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'g');
const formField = new RegExp(`\\b((?:${SECRET_FIELDS.join('|')})=)[^&\\s"']+`, 'g');
const authHeader = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi;
const jwt = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

export function redact(text: string): string {
  let out = text;
  for (const set of [secrets, retired])
    for (const s of set.keys()) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
  return out
    .replace(jsonField, '$1"[REDACTED]"')
    .replace(formField, '$1[REDACTED]')
    .replace(authHeader, '$1 [REDACTED]')
    .replace(jwt, '[REDACTED-JWT]');
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogSink {
  (level: LogLevel, line: string): void;
}

export class Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly component = '',
  ) {}
  child(component: string): Logger {
    return new Logger(this.sink, this.component ? `${this.component}/${component}` : component);
  }
  private emit(level: LogLevel, message: string, err?: unknown): void {
    let line = this.component ? `[${this.component}] ${message}` : message;
    if (err !== undefined) line += `: ${describeError(err)}`;
    this.sink(level, redact(line));
  }
  trace(m: string): void {
    this.emit('trace', m);
  }
  debug(m: string): void {
    this.emit('debug', m);
  }
  info(m: string): void {
    this.emit('info', m);
  }
  warn(m: string, err?: unknown): void {
    this.emit('warn', m, err);
  }
  error(m: string, err?: unknown): void {
    this.emit('error', m, err);
  }
}

export const nullLogger = new Logger(() => {});

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${typeof code === 'string' ? code + ': ' : ''}${err.message}`;
  }
  return String(err);
}
