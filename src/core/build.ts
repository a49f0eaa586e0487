declare const __TEST_HOOKS__: boolean | undefined;

/**
 * Test-only switches (a pinned clock, crash points, running without a lock, another managed-config
 * folder) exist only where this is true: in the test bundle and in the tsc-compiled tests. The shipped
 * bundles are built with `__TEST_HOOKS__ = false` and syntax minification, which removes every branch it
 * guards, switch names included (a test checks dist/ for them).
 */
export const TEST_HOOKS: boolean = typeof __TEST_HOOKS__ === 'boolean' ? __TEST_HOOKS__ : true;
