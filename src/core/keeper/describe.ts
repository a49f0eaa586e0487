import { describeProbe } from './probe';
import type { KeptReason } from './staleness';

/** Words for a kept reason (log lines, `watch`, doctor). */
export function describeKept(r: KeptReason, now: number): string {
  const secs = (t: number) => `${Math.max(0, Math.round((t - now) / 1000))} s`;
  switch (r.code) {
    case 'loop-guard':
      return 'it came back after we removed it while the token is unchanged: Claude Code really failed with this token';
    case 'needs-scope':
      return `the server asked for more access (403 insufficient_scope; the token lacks ${r.missingScopes.join(' ')}): sign in for the union of scopes, not a stale entry`;
    case 'rejected':
      return `${describeProbe(r.probe)}; next probe in ${secs(r.nextProbeAt)}`;
    case 'unreachable':
    case 'inconclusive':
      return `${describeProbe(r.probe)}; next probe in ${secs(r.nextProbeAt)}`;
    case 'newer-than-probe':
      return `written after the server last accepted this token; next probe in ${secs(r.nextProbeAt)}`;
    case 'probe-pending':
      return `a new token; the server is asked at most once a minute, next in ${secs(r.nextProbeAt)}`;
  }
}
