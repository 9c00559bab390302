// Seeded fast-check fuzz of the device application's inputs (Node only: fast-check needs host
// timers that XS lacks). The portable unit tests in test/unit/device run the same model in XS.
import assert from "node:assert/strict";
import fc from "fast-check";
import { DeviceConfigError, parseDeviceConfig } from "../../modules/device/config.js";
import { MAX_READING_PAYLOAD, Outbox, OutboxError } from "../../modules/device/outbox.js";
import { MemoryStore } from "../../modules/platform/storage.js";
import { checkAgainstModel, type OutboxOp } from "../unit/device/outbox-model.js";

describe("device fuzz", () => {
  it("parseDeviceConfig throws nothing but DeviceConfigError on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => {
        try {
          parseDeviceConfig(value);
        } catch (error) {
          assert.ok(error instanceof DeviceConfigError, `${(error as Error).name}: ${(error as Error).message}`);
        }
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("parseDeviceConfig: mutated valid configurations are accepted or refused with DeviceConfigError", () => {
    const section = fc.record(
      {
        modem: fc.record({ dialect: fc.constantFrom("generic", "quectel-bg95", "x"), apn: fc.string({ maxLength: 8 }), pin: fc.string({ maxLength: 9 }) }, { requiredKeys: [] }),
        broker: fc.record({ host: fc.string({ maxLength: 12 }), port: fc.integer({ min: -5, max: 70000 }) }, { requiredKeys: [] }),
        topic: fc.string({ maxLength: 30 }),
        outbox: fc.record({ capacity: fc.integer({ min: -1, max: 20 }), inflight: fc.integer({ min: -1, max: 70 }) }, { requiredKeys: [] }),
        trustAnchors: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(section, (value) => {
        try {
          parseDeviceConfig(value);
        } catch (error) {
          assert.ok(error instanceof DeviceConfigError, `${(error as Error).name}: ${(error as Error).message}`);
        }
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("the outbox agrees with its model over random operations and reboots", () => {
    const op: fc.Arbitrary<OutboxOp> = fc.oneof(
      fc.constant({ kind: "add" as const }),
      fc.constant({ kind: "send" as const }),
      fc.nat(5).map((which) => ({ kind: "ack" as const, which })),
      fc.constant({ kind: "reboot" as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => checkAgainstModel(ops)),
      { seed: 42, numRuns: 300 },
    );
  });

  it("the outbox survives hostile records in its storage: open() drops them and counts them, never throws", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.uint8Array({ maxLength: 40 })), { maxLength: 12 }), fc.uint8Array({ maxLength: 40 }), (records, meta) => {
        const store = new MemoryStore();
        for (const [id, bytes] of records) store.set(`r${id}`, bytes);
        store.set("meta", meta);
        const outbox = Outbox.open(store, { capacity: 8, maxInflight: 2 });
        assert.ok(outbox.size <= 8);
        const maxId = Math.max(0, ...records.map(([id]) => id));
        assert.ok(outbox.nextId > maxId);
        for (const entry of outbox.entries) assert.ok(outbox.payload(entry.id).length <= MAX_READING_PAYLOAD);
        const added = outbox.add("t", 1, 0);
        assert.ok(added.id > maxId);
      }),
      { seed: 42, numRuns: 400 },
    );
  });

  it("the outbox refuses values it cannot encode with OutboxError only", () => {
    const outbox = Outbox.open(new MemoryStore(), { capacity: 8, maxInflight: 2 });
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.anything({ maxDepth: 2 }), (name, value) => {
        try {
          outbox.add(name, value as never, 0);
        } catch (error) {
          assert.ok(error instanceof OutboxError, `${(error as Error).name}: ${(error as Error).message}`);
        }
      }),
      { seed: 42, numRuns: 400 },
    );
  });
});
