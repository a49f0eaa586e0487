import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { runStorm } from '../stress/storm';

test(
  'storm (small): 8 refresh processes + 2 store writers, 20 rotations of 3-second tokens → 0 reuses, 0 revoked, every token works, other keys intact',
  { timeout: 240_000 },
  async () => {
    const r = await runStorm({ workers: 8, rotations: 20, writers: 2, ttlSeconds: 3 });
    console.log(`# storm: ${JSON.stringify({ ...r, failures: undefined })}`);
    assert.ok(r.rotations >= 20);
    assert.equal(r.reusesDetected, 0);
    assert.equal(r.grantsRevoked, 0);
    assert.equal(r.failed, 0, r.failures.join('\n'));
    assert.equal(r.whoamiFailed, 0);
    assert.equal(r.whoamiOk + r.whoamiExpiredFirst, r.rotations);
    assert.equal(r.refreshed, r.rotations, 'every POST was one of our refreshes, each stored');
    assert.ok(r.writerWrites > 0);
    assert.ok(r.writersIntact, "the writers' last values are in the store");
    assert.ok(r.unknownKeysIntact);
    assert.ok(r.finalTokenWorks);
  },
);
