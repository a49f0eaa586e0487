/**
 * The extension's translator type and the few words every presentation file shares. No vscode import at run
 * time (type-only, erased), so every presentation file loads in plain Node for the unit tests; it also makes
 * @vscode/l10n-dev scan this file for its `l10n.t('…')` calls (scripts/l10n.mjs).
 */
import type * as vscode from 'vscode';
import { durationParts } from '../core/duration';

export type Translate = (message: string, ...args: (string | number)[]) => string;
export const plainT: Translate = (m, ...args) => m.replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)]));
/** vscode.l10n in the extension; any plain translator (plainL10n, a test's) elsewhere. */
export type L10n = Pick<typeof vscode.l10n, 't'> | { t: Translate };
export const plainL10n: L10n = { t: plainT };

export function humanDuration(ms: number, l10n: L10n = plainL10n): string {
  const { value, unit } = durationParts(ms);
  switch (unit) {
    case 's':
      return l10n.t('{0} s', value);
    case 'min':
      return l10n.t('{0} min', value);
    case 'h':
      return l10n.t('{0} h', value);
    case 'd':
      return l10n.t('{0} d', value);
  }
}

/** Markdown-escape a text for a tooltip. */
export const mdEscape = (s: string) => s.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
