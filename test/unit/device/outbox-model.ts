// A plain model of the outbox (ids in order with "sent" flags, the dropped count) that the real one
// must agree with after every operation: used by the seeded unit test (also in XS) and by the
// fast-check fuzz in test/integration/device-fuzz.test.ts.
import { Outbox } from "../../../modules/device/outbox.js";
import { MemoryStore } from "../../../modules/platform/storage.js";
import * as assert from "../../lib/portable/assert.js";

export type OutboxOp = { kind: "add" } | { kind: "send" } | { kind: "ack"; which: number } | { kind: "reboot" };

/** Runs `ops` on an outbox (capacity 6, window 3) and on a plain model; they must agree after every step. */
export function checkAgainstModel(ops: readonly OutboxOp[]): void {
  const store = new MemoryStore();
  const capacity = 6;
  let outbox = Outbox.open(store, { capacity, maxInflight: 3 });
  let model: { id: number; sent: boolean }[] = [];
  let next = 1;
  let dropped = 0;
  let packetId = 1;
  for (const o of ops) {
    if (o.kind === "add") {
      assert.equal(outbox.add("t", next, 0).id, next);
      model.push({ id: next++, sent: false });
      if (model.length > capacity) {
        const victim = model.find((m) => !m.sent)!;
        model = model.filter((m) => m !== victim);
        dropped++;
      }
    } else if (o.kind === "send") {
      const target = model.find((m) => !m.sent);
      if (target && model.filter((m) => m.sent).length < 3) {
        outbox.markSent(target.id, packetId++);
        target.sent = true;
      }
    } else if (o.kind === "ack") {
      const target = model.filter((m) => m.sent)[o.which];
      assert.equal(outbox.acknowledge(target?.id ?? -1), target !== undefined);
      if (target) model = model.filter((m) => m !== target);
    } else {
      outbox = Outbox.open(store, { capacity, maxInflight: 3 });
    }
    assert.deepEqual(outbox.entries.map((e) => [e.id, e.packetId !== 0]), model.map((m) => [m.id, m.sent]));
    assert.equal(outbox.dropped, dropped);
    assert.equal(outbox.nextId, next);
  }
}
