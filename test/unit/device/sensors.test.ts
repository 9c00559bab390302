// The OEM sensor API: registration rules, each sensor on its own interval, failures and slow reads
// counted without stopping anything, no overlapping reads, and the example sensors.
import { esp32InternalTemperature, simulatedTemperature } from "../../../modules/device/example-sensors.js";
import { SensorError, SensorHub, SensorUnavailableError, type SensorValue } from "../../../modules/device/sensors.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";

function hub(platform: ManualPlatform, defaultIntervalMs = 1000) {
  const readings: { sensor: string; value: SensorValue; time: number }[] = [];
  const h = new SensorHub(platform, { defaultIntervalMs, onReading: (sensor, value, time) => readings.push({ sensor, value, time }) });
  return { h, readings };
}

describe("device sensors", () => {
  it("reads each sensor at start and then at its own interval (default: the hub's)", async () => {
    const platform = new ManualPlatform();
    const { h, readings } = hub(platform, 1000);
    let a = 0;
    let b = 0;
    h.register({ name: "a", read: async () => ++a });
    h.register({ name: "b", intervalMs: 300, read: async () => ++b * 10 });
    h.start();
    await platform.advance(0);
    assert.deepEqual(readings.map((r) => r.sensor), ["a", "b"]);
    await platform.advance(1000);
    assert.equal(readings.filter((r) => r.sensor === "a").length, 2, "a: at 0 and 1000");
    assert.equal(readings.filter((r) => r.sensor === "b").length, 4, "b: at 0, 300, 600, 900");
    assert.equal(readings[0]!.time, platform.wallClock() - 1000, "stamped with the wall clock of the read");
    h.stop();
    await platform.advance(5000);
    assert.equal(readings.length, 6, "nothing after stop()");
    assert.equal(platform.pendingTimers, 0);
  });

  it("counts a failing sensor and keeps reading it and the others", async () => {
    const platform = new ManualPlatform();
    const { h, readings } = hub(platform);
    let calls = 0;
    h.register({
      name: "flaky",
      read: async () => {
        calls++;
        if (calls % 2 === 1) throw new Error("I2C NACK");
        return 1;
      },
    });
    h.register({ name: "steady", read: async () => 2 });
    h.start();
    await platform.advance(3000);
    assert.equal(h.stats("flaky")!.failures, 2);
    assert.equal(h.stats("flaky")!.reads, 2);
    assert.match(h.stats("flaky")!.lastError!, /I2C NACK/);
    assert.equal(readings.filter((r) => r.sensor === "steady").length, 4);
    assert.ok(platform.logs.some((l) => l.level === "warn" && /flaky: read failed/.test(l.message)));
    h.stop();
  });

  it("times out a read that hangs, never overlaps reads of one sensor, and skips the slots a slow read missed", async () => {
    const platform = new ManualPlatform();
    const { h, readings } = hub(platform);
    let started = 0;
    let active = 0;
    let maxActive = 0;
    h.register({
      name: "slow",
      intervalMs: 100,
      timeoutMs: 1000,
      read: () => {
        started++;
        active++;
        maxActive = Math.max(maxActive, active);
        // Answers after 250 ms: longer than the interval, shorter than the timeout.
        return new Promise<SensorValue>((resolve) => platform.setTimer(() => (active--, resolve(started)), 250));
      },
    });
    h.register({ name: "hung", intervalMs: 1000, timeoutMs: 50, read: () => new Promise<SensorValue>(() => undefined) });
    h.start();
    await platform.advance(1000);
    assert.equal(maxActive, 1, "one read of a sensor at a time");
    // Reads start at 0, 300, 600, 900 (each 250 ms, next free slot on the 100 ms grid).
    assert.equal(started, 4);
    assert.equal(readings.filter((r) => r.sensor === "slow").length, 3, "the read started at 900 is still running");
    assert.equal(h.stats("hung")!.failures, 1);
    assert.match(h.stats("hung")!.lastError!, /no value within 50 ms/);
    h.stop();
  });

  it("refuses bad names, duplicates and intervals, and can remove a sensor", async () => {
    const platform = new ManualPlatform();
    const { h, readings } = hub(platform);
    assert.throws(() => h.register({ name: "has space", read: async () => 1 }), SensorError, /sensor name/);
    assert.throws(() => h.register({ name: "x".repeat(33), read: async () => 1 }), SensorError);
    assert.throws(() => h.register({ name: "fast", intervalMs: 1, read: async () => 1 }), SensorError, /intervalMs/);
    assert.throws(() => h.register({ name: "noread" } as never), SensorError, /read/);
    const remove = h.register({ name: "t", read: async () => 1 });
    assert.throws(() => h.register({ name: "t", read: async () => 1 }), SensorError, /already registered/);
    h.start();
    await platform.advance(0);
    remove();
    await platform.advance(5000);
    assert.equal(readings.length, 1);
    assert.deepEqual(h.names, []);
  });

  it("a reading the store refuses is logged as not kept, not counted against the sensor", async () => {
    const platform = new ManualPlatform();
    const h = new SensorHub(platform, {
      defaultIntervalMs: 1000,
      onReading: () => {
        throw new Error("flash full");
      },
    });
    h.register({ name: "t", read: async () => 1 });
    h.start();
    await platform.advance(0);
    assert.equal(h.stats("t")!.failures, 0);
    assert.ok(platform.logs.some((l) => l.level === "error" && /reading not kept.*flash full/.test(l.message)));
    h.stop();
  });

  describe("example sensors", () => {
    it("the simulated temperature stays near its mean, in Cel, to 0.01", async () => {
      const platform = new ManualPlatform();
      const sensor = simulatedTemperature(platform);
      assert.equal(sensor.name, "temperature");
      for (let i = 0; i < 20; i++) {
        await platform.advance(180000);
        const v = (await sensor.read()) as { value: number; unit: string };
        assert.equal(v.unit, "Cel");
        assert.ok(v.value >= 21 - 3.2 && v.value <= 21 + 3.2, `${v.value} within mean ± (swing + noise)`);
        assert.equal(Math.round(v.value * 100) / 100, v.value);
      }
    });

    it("the ESP32 internal temperature adapter needs the board's reader", async () => {
      await assert.rejects(esp32InternalTemperature().read(), SensorUnavailableError, /no reader/);
      assert.deepEqual(await esp32InternalTemperature(() => 47.26).read(), { value: 47.3, unit: "Cel" });
      await assert.rejects(esp32InternalTemperature(() => Number.NaN).read(), SensorUnavailableError);
    });
  });
});
