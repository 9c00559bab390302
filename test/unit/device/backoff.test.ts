// Reconnection backoff: min(max, initial · multiplier^(n-1)) with a jitter fraction drawn at random,
// reset by a success.
import { Backoff } from "../../../modules/device/backoff.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";

describe("device backoff", () => {
  const config = { initialMs: 1000, maxMs: 60000, multiplier: 2, jitter: 0 };

  it("doubles from the initial pause up to the ceiling, without jitter exactly", () => {
    const b = new Backoff(config, new ManualPlatform());
    const pauses = Array.from({ length: 9 }, () => b.fail());
    assert.deepEqual(pauses, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    assert.equal(b.failures, 9);
  });

  it("starts over after a success", () => {
    const b = new Backoff(config, new ManualPlatform());
    b.fail();
    b.fail();
    b.succeed();
    assert.equal(b.failures, 0);
    assert.equal(b.fail(), 1000);
  });

  it("draws the jitter fraction of each pause at random: the extremes of the random source give the bounds", () => {
    const half = { ...config, jitter: 0.5 };
    assert.equal(new Backoff(half, new ManualPlatform(), () => 0).fail(), 500, "random 0: the pause minus its jitter part");
    assert.equal(new Backoff(half, new ManualPlatform(), () => 0.999999).fail(), 1000, "random ~1: the full pause");
    const full = new Backoff({ ...config, jitter: 1 }, new ManualPlatform(), () => 0.25);
    full.fail();
    assert.equal(full.fail(), 500, "full jitter: a quarter of 2000");
  });

  it("with the platform's random bytes stays within its bounds and varies", () => {
    const platform = new ManualPlatform();
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const b = new Backoff({ ...config, jitter: 0.5 }, platform);
      b.fail();
      b.fail();
      const pause = b.fail(); // ceiling 4000
      assert.ok(pause >= 2000 && pause <= 4000, `pause ${pause} within [2000, 4000]`);
      seen.add(pause);
    }
    assert.ok(seen.size > 5, "not the same pause every time");
  });

  it("wait() sleeps for the pause on the platform's timers", async () => {
    const platform = new ManualPlatform();
    const b = new Backoff(config, platform);
    let done = false;
    void b.wait(platform).then(() => (done = true));
    await platform.advance(999);
    assert.ok(!done);
    await platform.advance(1);
    assert.ok(done);
  });
});
