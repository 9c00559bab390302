import { bytesToAscii, asciiToBytes } from "../../modules/bytes/bytes.js";
import { ByteQueue } from "../../modules/platform/byte-queue.js";
import { memoryLinkPair } from "../../modules/platform/memory-link.js";
import { LinkClosedError } from "../../modules/platform/platform.js";
import { sleep, TimeoutError, withTimeout } from "../../modules/platform/time.js";
import * as assert from "../lib/portable/assert.js";
import { hostPlatform, testEngine } from "../lib/portable/host-platform.js";
import { ManualPlatform } from "../lib/portable/manual-platform.js";

describe("platform", () => {
  describe("byte queue", () => {
    it("takes bytes across chunk boundaries in arrival order", () => {
      const q = new ByteQueue();
      q.push(Uint8Array.of(1, 2, 3));
      q.push(new Uint8Array(0));
      q.push(Uint8Array.of(4, 5));
      assert.equal(q.length, 5);
      assert.deepEqual(q.take(2), Uint8Array.of(1, 2));
      assert.deepEqual(q.take(2), Uint8Array.of(3, 4));
      assert.equal(q.length, 1);
      assert.deepEqual(q.take(), Uint8Array.of(5));
      assert.equal(q.take(), undefined);
    });
    it("answers undefined for a zero, negative or fractional-below-one request", () => {
      const q = new ByteQueue();
      q.push(Uint8Array.of(9));
      assert.equal(q.take(0), undefined);
      assert.equal(q.take(-3), undefined);
      assert.equal(q.take(0.5), undefined);
      assert.deepEqual(q.take(10), Uint8Array.of(9));
    });
  });

  describe("memory link pair", () => {
    it("delivers written bytes to the other end, announced asynchronously", async () => {
      const [a, b] = memoryLinkPair();
      const seen: number[] = [];
      b.onReadable = (count) => seen.push(count);
      a.write(asciiToBytes("AT\r"));
      assert.deepEqual(seen, [], "onReadable must not run inside write()");
      await Promise.resolve();
      await Promise.resolve();
      assert.deepEqual(seen, [3]);
      assert.equal(bytesToAscii(b.read(2)!), "AT");
      assert.equal(b.readable, 1);
      assert.equal(bytesToAscii(b.read()!), "\r");
      assert.equal(b.read(), undefined);
    });
    it("closes both ends once and refuses writes afterwards", async () => {
      const [a, b] = memoryLinkPair();
      const closes: string[] = [];
      a.onClose = () => closes.push("a");
      b.onClose = () => closes.push("b");
      a.close();
      a.close();
      await Promise.resolve();
      assert.deepEqual(closes.sort(), ["a", "b"]);
      assert.throws(() => b.write(Uint8Array.of(1)), LinkClosedError);
    });
  });

  describe("withTimeout", () => {
    it("rejects with the given error when the clock passes the limit, and not before", async () => {
      const platform = new ManualPlatform();
      let outcome = "pending";
      withTimeout(platform, new Promise(() => {}), 100, () => new TimeoutError("too slow")).catch((e: Error) => (outcome = e.message));
      await platform.advance(99);
      assert.equal(outcome, "pending");
      await platform.advance(1);
      assert.equal(outcome, "too slow");
    });
    it("resolves with the value and clears its timer", async () => {
      const platform = new ManualPlatform();
      const value = await withTimeout(platform, Promise.resolve(42), 100, () => new TimeoutError("x"));
      assert.equal(value, 42);
      assert.equal(platform.pendingTimers, 0);
    });
  });

  describe("host platform", () => {
    it(`fires real timers in order and keeps a monotonic clock`, async () => {
      const platform = hostPlatform();
      const order: number[] = [];
      const start = platform.now();
      await Promise.all([sleep(platform, 20).then(() => order.push(20)), sleep(platform, 5).then(() => order.push(5))]);
      assert.deepEqual(order, [5, 20]);
      assert.ok(platform.now() - start >= 15, `clock advanced ${platform.now() - start} ms on ${testEngine()}`);
    });
    it("cancels a cleared timer", async () => {
      const platform = hostPlatform();
      let fired = false;
      const handle = platform.setTimer(() => (fired = true), 5);
      platform.clearTimer(handle);
      await sleep(platform, 20);
      assert.equal(fired, false);
    });
    it("gives random bytes of the requested length that are not all equal", () => {
      const bytes = hostPlatform().randomBytes(32);
      assert.equal(bytes.length, 32);
      assert.ok(bytes.some((b) => b !== bytes[0]));
    });
    it("reports a wall clock after 2020", () => {
      assert.ok(hostPlatform().wallClock() > Date.UTC(2020, 0, 1));
    });
  });
});
