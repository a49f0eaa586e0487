/** The one rounding rule for a duration shown to people (the CLI and the extension word the unit). */
export function durationParts(ms: number): { value: number; unit: 's' | 'min' | 'h' | 'd' } {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return { value: s, unit: 's' };
  const m = Math.round(s / 60);
  if (m < 120) return { value: m, unit: 'min' };
  const h = Math.round(m / 60);
  if (h < 48) return { value: h, unit: 'h' };
  return { value: Math.round(h / 24), unit: 'd' };
}
