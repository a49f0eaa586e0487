declare const __TEST_HOOKS__: boolean | undefined;

/**
 * Test-only switches (a pinned clock, crash points, running without a lock, another managed-config
 * folder) exist only where this is true: in the test bundle (out/test-cli, built with
 * `__TEST_HOOKS__ = true`). Everything else — the shipped bundles, and any build that forgets the define —
 * has them off; the shipped bundles are also minified for syntax, which removes every branch this guards,
 * switch names included (a test checks dist/ for them).
 */
export const TEST_HOOKS: boolean = typeof __TEST_HOOKS__ === 'boolean' ? __TEST_HOOKS__ : false;
