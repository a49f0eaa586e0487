import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { isPlainObject } from '../fsutil';

/*
 * The macOS keychain overflow of Claude Code 2.1.332 (read from its code; see claude-code-format.md).
 *
 * When the `add-generic-password` line of the main item would pass 4032 characters, Claude Code moves the largest
 * entries out of it into a second item, `<service>-overflow-<a|b>` (the slots alternate), sealed with AES-256-GCM:
 * blob = base64(IV 12 bytes || ciphertext || tag 16 bytes) of `JSON.stringify` of the moved sections (sorted by
 * name). The main item keeps `keychainOverflow: {slot, key: <base64 of the 32-byte key>, ...}`. A reader takes the
 * main item, then the named overflow item, and merges them by the rule in `mergeOverflow` (a port of Claude Code's).
 */

export const OVERFLOW_SLOTS = ['a', 'b'] as const;
export type OverflowSlot = (typeof OVERFLOW_SLOTS)[number];

export interface OverflowPointer {
  slot: OverflowSlot;
  key: string;
  [other: string]: unknown;
}

const IV_LEN = 12;
const TAG_LEN = 16;
const KEY_LEN = 32;

export function overflowService(service: string, slot: OverflowSlot): string {
  return `${service}-overflow-${slot}`;
}

/** The next slot to write: the other one (a -> b -> a); `a` when nothing was split before. */
export function nextSlot(current: OverflowSlot | undefined): OverflowSlot {
  return current === 'a' ? 'b' : 'a';
}

/** The main item's pointer when it is one Claude Code follows (a known slot and a string key), else undefined. */
export function overflowPointer(main: unknown): OverflowPointer | undefined {
  if (!isPlainObject(main)) return undefined;
  const p = main.keychainOverflow;
  if (!isPlainObject(p)) return undefined;
  if (!(OVERFLOW_SLOTS as readonly unknown[]).includes(p.slot) || typeof p.key !== 'string') return undefined;
  return p as OverflowPointer;
}

/** The main item without its pointer. */
export function withoutPointer(main: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...main };
  delete rest.keychainOverflow;
  return rest;
}

/** Seal the moved sections as Claude Code does: base64(IV || AES-256-GCM ciphertext || tag). */
export function sealOverflow(sections: Record<string, unknown>, key: Buffer, iv: Buffer = randomBytes(IV_LEN)): string {
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
  const ct = Buffer.concat([cipher.update(JSON.stringify(sortedSections(sections)), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64');
}

/** The sections in an overflow blob, or undefined when it does not open with the key (or is not a JSON object). */
export function unsealOverflow(pointerKey: string, blob: string): Record<string, unknown> | undefined {
  try {
    const key = Buffer.from(pointerKey, 'base64');
    const buf = Buffer.from(blob.trim(), 'base64');
    if (key.length !== KEY_LEN || buf.length < IV_LEN + TAG_LEN) return undefined;
    const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_LEN), { authTagLength: TAG_LEN });
    d.setAuthTag(buf.subarray(buf.length - TAG_LEN));
    const text = d.update(buf.subarray(IV_LEN, buf.length - TAG_LEN), undefined, 'utf8') + d.final('utf8');
    const value: unknown = JSON.parse(text);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function newOverflowKey(): Buffer {
  return randomBytes(KEY_LEN);
}

// --- Claude Code's merge rule ---------------------------------------------------------------------------------

type SectionKind =
  'login' | 'accountGrant' | 'stays' | 'grows' | 'organizationMoves' | 'organizationStays' | 'memberGrant';

/** How each top-level section travels between the items (Claude Code 2.1.332's table). */
const SECTION_KINDS = new Map<string, SectionKind>(
  Object.entries({
    claudeAiOauth: 'login',
    designOauth: 'accountGrant',
    chatHistoryOauth: 'accountGrant',
    cloudSessionsOauth: 'accountGrant',
    cloudSessionsSignInEnded: 'stays',
    organizationUuid: 'stays',
    coworkRemoteDevice: 'grows',
    mcpOAuth: 'grows',
    mcpOAuthClientConfig: 'grows',
    pluginSecrets: 'grows',
    mcpXaaIdp: 'grows',
    mcpXaaIdpConfig: 'grows',
    enterpriseGateway: 'organizationMoves',
    gatewayTrust: 'stays',
    gatewayAllowlistEntries: 'stays',
    slackTag: 'stays',
    mcpDiscoveryCacheKey: 'stays',
  }) as Array<[string, SectionKind]>,
);

function field(v: unknown, k: string): unknown {
  return isPlainObject(v) ? v[k] : undefined;
}

export function sectionKind(name: string, value: unknown): SectionKind {
  if (name.startsWith('trusted')) return 'stays';
  return (
    SECTION_KINDS.get(name) ??
    (field(value, 'organizationUuid') !== undefined && field(value, 'accountUuid') !== undefined
      ? 'organizationStays'
      : 'memberGrant')
  );
}

/** Sections whose entries are merged key by key (and that our writer may move). */
export function isGrowingSection(name: string): boolean {
  return SECTION_KINDS.get(name) === 'grows';
}

function hash16(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').substring(0, 16);
}
function loginHash(main: Record<string, unknown>): string {
  return hash16([main.claudeAiOauth]);
}
function memberHash(main: Record<string, unknown>): string {
  return hash16(
    Object.entries(main)
      .filter(([k, v]) => sectionKind(k, v) === 'organizationStays')
      .map(([k, v]) => JSON.stringify([k, field(v, 'organizationUuid'), field(v, 'accountUuid')]))
      .sort(),
  );
}

/**
 * What Claude Code 2.1.332 reads from a main item (with its pointer) and the sections of its overflow item.
 * Growing sections merge key by key, the main item winning - except that a main-item `mcpOAuth` entry wins only when
 * its `accessToken` is non-empty or the overflow lacks that key (a signed-out stub does not hide an overflow entry);
 * `pluginSecrets` entries held in both are merged field by field. A section of another kind is taken from the
 * overflow only when the main item lacks it and the pointer's `login` / `member` marks match (else it is absent);
 * `stays` sections never come from the overflow.
 */
export function mergeOverflow(
  main: Record<string, unknown>,
  sections: Record<string, unknown>,
): Record<string, unknown> {
  const n = withoutPointer(main);
  const o = overflowPointer(main);
  const login =
    n.claudeAiOauth === undefined || n.organizationUuid === ''
      ? o?.login !== undefined && o.organizationUuid === n.organizationUuid
      : o?.login === loginHash(n);
  const member = memberHash(n);
  const memberOk = o?.member === member && (member === memberHash({}) ? login : n.organizationUuid !== undefined);
  const out = new Map<string, unknown>(Object.entries(n));
  if (n.organizationUuid === '') out.delete('organizationUuid');
  for (const [s, p] of Object.entries(sections)) {
    const kind = sectionKind(s, p);
    if (kind === 'grows') {
      if (!isPlainObject(p)) continue;
      const merged = new Map<string, unknown>(Object.entries(p));
      const mine = out.get(s);
      for (const [k, y] of Object.entries(isPlainObject(mine) ? mine : {})) {
        if (s !== 'mcpOAuth' || field(y, 'accessToken') || !merged.has(k)) {
          const theirs = merged.get(k);
          merged.set(
            k,
            s === 'pluginSecrets' && merged.has(k)
              ? { ...(isPlainObject(theirs) ? theirs : {}), ...(isPlainObject(y) ? y : {}) }
              : y,
          );
        }
      }
      out.set(s, Object.fromEntries(merged));
    } else if (kind !== 'stays' && (kind === 'memberGrant' ? memberOk : login) && !out.has(s)) {
      out.set(s, p);
    }
  }
  return Object.fromEntries(out);
}

function sortedSections(sections: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(sections)
      .sort()
      .map((k) => [k, sections[k]]),
  );
}

// --- our split ------------------------------------------------------------------------------------------------

/** One thing that moves as a whole: an `mcpOAuth` entry with its `mcpOAuthClientConfig` entry, or one entry of another growing section. */
interface Unit {
  parts: Array<[section: string, key: string]>;
  size: number;
}

export interface SplitPlan {
  /** what the main item holds (no pointer yet) */
  main: Record<string, unknown>;
  /** the sections that move into the overflow item; undefined when everything fits in the main item */
  moved?: Record<string, Record<string, unknown>>;
}

/**
 * Split `data` (no pointer) so that `fits(main, true)` (the main item with a pointer) holds: nothing moves when the whole store fits; else
 * the largest units move first, as Claude Code moves them, until the main item fits. Only growing sections move
 * (their entries merge back key by key whatever the pointer's marks); everything else stays in the main item.
 * Returns undefined when even with every unit moved the main item does not fit.
 */
export function splitStore(
  data: Record<string, unknown>,
  fits: (main: Record<string, unknown>, withPointer: boolean) => boolean,
  sizeOf: (v: unknown) => number,
): SplitPlan | undefined {
  if (fits(data, false)) return { main: data };
  const units: Unit[] = [];
  const covered = new Set<string>();
  const oauth = isPlainObject(data.mcpOAuth) ? data.mcpOAuth : {};
  const clientCfg = isPlainObject(data.mcpOAuthClientConfig) ? data.mcpOAuthClientConfig : {};
  for (const [k, v] of Object.entries(oauth)) {
    const parts: Unit['parts'] = [['mcpOAuth', k]];
    let size = sizeOf({ [k]: v });
    if (Object.prototype.hasOwnProperty.call(clientCfg, k)) {
      parts.push(['mcpOAuthClientConfig', k]);
      covered.add(k);
      size += sizeOf({ [k]: clientCfg[k] });
    }
    units.push({ parts, size });
  }
  for (const [s, section] of Object.entries(data)) {
    if (s === 'mcpOAuth' || !isGrowingSection(s) || !isPlainObject(section)) continue;
    for (const [k, v] of Object.entries(section)) {
      if (s === 'mcpOAuthClientConfig' && covered.has(k)) continue;
      units.push({ parts: [[s, k]], size: sizeOf({ [k]: v }) });
    }
  }
  units.sort((x, y) => y.size - x.size || (x.parts[0].join('\0') < y.parts[0].join('\0') ? -1 : 1));

  const main: Record<string, unknown> = { ...data };
  const moved: Record<string, Record<string, unknown>> = {};
  for (const u of units) {
    if (fits(main, true)) break;
    for (const [s, k] of u.parts) {
      const section = { ...(main[s] as Record<string, unknown>) };
      (moved[s] ??= {})[k] = section[k];
      delete section[k];
      if (Object.keys(section).length) main[s] = section;
      else delete main[s];
    }
  }
  if (!fits(main, true)) return undefined;
  return { main, moved };
}
