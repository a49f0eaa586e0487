/**
 * Logger + redact(). Every line any part of the product logs, prints or shows goes through redact():
 * it replaces every secret this process has seen (registered with rememberSecret) and anything that looks
 * like a token in the usual places (JSON fields, form bodies, Authorization headers, JWTs).
 */
const secrets = new Set<string>();

/** Register a secret value (access/refresh token, client secret, code, verifier) so redact() hides it. */
export function rememberSecret(value: unknown): void {
  if (typeof value === 'string' && value.length >= 6) secrets.add(value);
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
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
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
