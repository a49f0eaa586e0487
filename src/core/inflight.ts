/**
 * The operations under way whose end matters (a refresh between its POST and its write, a sign-in storing its
 * tokens): a host that is about to go away — VS Code closing or reloading a window — settles them first, within a
 * bound, instead of cutting them off. Whoever starts such an operation tracks it here (the extension's commands,
 * the keeper); the host's shutdown awaits `settle()`.
 */
export class InFlight {
  private readonly under = new Set<Promise<unknown>>();

  /** Track `p` until it settles; returns `p` itself (its rejection is the caller's, never unhandled here). */
  track<T>(p: Promise<T>): Promise<T> {
    this.under.add(p);
    void p.then(
      () => this.under.delete(p),
      () => this.under.delete(p),
    );
    return p;
  }

  /** How many tracked operations are under way. */
  get size(): number {
    return this.under.size;
  }

  /**
   * Resolves once every tracked operation has settled — those started meanwhile included — or when `boundMs`
   * has passed (then `false`). Never rejects.
   */
  async settle(boundMs = Infinity): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const bound =
      boundMs === Infinity
        ? undefined
        : new Promise<false>((r) => {
            timer = setTimeout(() => r(false), boundMs);
          });
    try {
      while (this.under.size) {
        const all = Promise.allSettled([...this.under]).then(() => true as const);
        if ((await (bound ? Promise.race([all, bound]) : all)) === false) return false;
      }
      return true;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
