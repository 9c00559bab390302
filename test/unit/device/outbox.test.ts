// The durable outbox against the promises in modules/device/outbox.ts's header: stored before
// sent, removed only by acknowledgement, oldest unsent dropped when full with the count kept, and
// nothing lost or double-counted across a reboot at any point — including between two writes.
import { bytesToUtf8, utf8ToBytes } from "../../../modules/bytes/bytes.js";
import { Outbox, OutboxError } from "../../../modules/device/outbox.js";
import { type KeyValueStore, MemoryStore, StorageError } from "../../../modules/platform/storage.js";
import * as assert from "../../lib/portable/assert.js";
import { checkAgainstModel } from "./outbox-model.js";

class PowerCut extends Error {
  override name = "PowerCut";
}

/**
 * A store over a shared map whose power fails after `budget` writes: that write and every later
 * one throw without touching the map (a write either lands whole or not at all, as NVS promises).
 */
class FlakyStore implements KeyValueStore {
  writes = 0;
  constructor(
    readonly map: Map<string, Uint8Array>,
    readonly budget = Infinity,
  ) {}
  #spend(): void {
    if (this.writes >= this.budget) throw new PowerCut("power cut");
    this.writes++;
  }
  get(key: string) {
    return this.map.get(key)?.slice();
  }
  set(key: string, value: Uint8Array) {
    this.#spend();
    this.map.set(key, value.slice());
  }
  delete(key: string) {
    this.#spend();
    this.map.delete(key);
  }
  keys() {
    return Array.from(this.map.keys());
  }
}

const open = (store: KeyValueStore, capacity = 5, maxInflight = 2) => Outbox.open(store, { capacity, maxInflight });
const payloadOf = (outbox: Outbox, id: number) => JSON.parse(bytesToUtf8(outbox.payload(id))) as Record<string, unknown>;

describe("device outbox", () => {
  it("stores each reading before it is sent, with a device-unique increasing id, in the documented JSON payload", () => {
    const store = new MemoryStore();
    const outbox = open(store);
    const first = outbox.add("temperature", { value: 21.5, unit: "Cel" }, 1767225600000);
    const second = outbox.add("door", true, 1767225601000);
    assert.equal(first.id, 1);
    assert.equal(second.id, 2);
    assert.ok(store.keys().includes("r1") && store.keys().includes("r2"), "one record per reading, named r<id>");
    assert.deepEqual(payloadOf(outbox, 1), { id: 1, sensor: "temperature", time: 1767225600000, value: { value: 21.5, unit: "Cel" }, dropped: 0 });
    assert.deepEqual(payloadOf(outbox, 2), { id: 2, sensor: "door", time: 1767225601000, value: true, dropped: 0 });
    assert.deepEqual(
      outbox.entries.map((e) => [e.id, e.sensor, e.packetId]),
      [
        [1, "temperature", 0],
        [2, "door", 0],
      ],
    );
    assert.equal(outbox.nextUnsent()?.id, 1);
  });

  it("keeps readings until acknowledged, across a reboot, and never reuses an id", () => {
    const store = new MemoryStore();
    const outbox = open(store);
    for (let i = 0; i < 3; i++) outbox.add("t", i, 0);
    assert.ok(outbox.acknowledge(1));
    assert.ok(!outbox.acknowledge(1), "a second acknowledgement finds nothing");
    const rebooted = open(store);
    assert.deepEqual(rebooted.entries.map((e) => e.id), [2, 3]);
    assert.equal(rebooted.add("t", 9, 0).id, 4);
    rebooted.acknowledge(2);
    rebooted.acknowledge(3);
    rebooted.acknowledge(4);
    const empty = open(store);
    assert.equal(empty.size, 0);
    assert.equal(empty.add("t", 1, 0).id, 5, "ids continue after the outbox emptied (kept in meta)");
  });

  it("keeps the packet identifier of a sent reading across a reboot (re-sent with it, DUP set)", () => {
    const store = new MemoryStore();
    const outbox = open(store);
    outbox.add("t", 1, 0);
    outbox.add("t", 2, 0);
    outbox.markSent(1, 4242);
    assert.equal(outbox.nextUnsent()?.id, 2);
    const rebooted = open(store);
    assert.deepEqual(rebooted.inflight.map((e) => [e.id, e.packetId]), [[1, 4242]]);
    assert.equal(rebooted.byPacketId(4242)?.id, 1);
    assert.equal(rebooted.nextUnsent()?.id, 2);
    assert.deepEqual(payloadOf(rebooted, 1), payloadOf(outbox, 1), "the payload is unchanged by markSent");
  });

  it("when full, drops the oldest reading not on its way, counts it, and reports the count in later readings", () => {
    const store = new MemoryStore();
    const outbox = open(store, 3, 1);
    const drops: number[] = [];
    outbox.onDrop = (_n, total) => drops.push(total);
    outbox.add("t", 1, 0);
    outbox.add("t", 2, 0);
    outbox.markSent(1, 7); // in flight: not a candidate
    outbox.add("t", 3, 0);
    assert.equal(outbox.dropped, 0);
    outbox.add("t", 4, 0); // 4 > capacity 3: reading 2 goes (1 is in flight)
    assert.deepEqual(outbox.entries.map((e) => e.id), [1, 3, 4]);
    assert.equal(outbox.dropped, 1);
    outbox.add("t", 5, 0); // reading 3 goes
    assert.deepEqual(outbox.entries.map((e) => e.id), [1, 4, 5]);
    assert.deepEqual(drops, [1, 2]);
    assert.equal(payloadOf(outbox, 5)["dropped"], 1, "reading 5 was stored after one drop");
    assert.equal(outbox.add("t", 6, 0).dropped, 2);
    assert.ok(!store.keys().includes("r2") && !store.keys().includes("r3"));
    const rebooted = open(store, 3, 1);
    assert.equal(rebooted.dropped, 3, "the count survives a reboot");
    assert.equal(rebooted.stats.droppedThisRun, 0);
  });

  it("trims to a smaller capacity at open, oldest unsent first, and counts those drops", () => {
    const store = new MemoryStore();
    const big = open(store, 10, 2);
    for (let i = 1; i <= 6; i++) big.add("t", i, 0);
    big.markSent(1, 11);
    const small = open(store, 4, 2);
    assert.deepEqual(small.entries.map((e) => e.id), [1, 4, 5, 6]);
    assert.equal(small.dropped, 2);
    assert.equal(small.stats.droppedThisRun, 2);
  });

  it("forgets packet identifiers beyond the in-flight window or repeated (those readings go out as new)", () => {
    const store = new MemoryStore();
    const wide = open(store, 10, 5);
    for (let i = 1; i <= 4; i++) wide.add("t", i, 0);
    wide.markSent(1, 100);
    wide.markSent(2, 100);
    wide.markSent(3, 101);
    wide.markSent(4, 102);
    const narrow = open(store, 10, 2);
    assert.deepEqual(narrow.entries.map((e) => [e.id, e.packetId]), [
      [1, 100],
      [2, 0],
      [3, 101],
      [4, 0],
    ]);
    assert.equal(narrow.nextUnsent()?.id, 2);
  });

  it("drops unreadable records at open, counting them, and rebuilds the next id from the records when meta is lost", () => {
    const map = new Map<string, Uint8Array>();
    const store = new FlakyStore(map);
    const outbox = open(store);
    for (let i = 1; i <= 3; i++) outbox.add("t", i, 0);
    map.set("r2", Uint8Array.of(1, 0)); // torn: shorter than its header
    map.set("r3", Uint8Array.of(9, 0, 0, 1, 0x74, 0x7b, 0x7d)); // unknown version
    map.set("meta", utf8ToBytes("{not json"));
    map.set("other", utf8ToBytes("kept")); // not the outbox's: left alone
    const rebooted = open(store);
    assert.deepEqual(rebooted.entries.map((e) => e.id), [1]);
    assert.equal(rebooted.dropped, 2);
    assert.equal(rebooted.nextId, 4, "the highest record id seen (3) + 1");
    assert.ok(map.has("other"));
  });

  it("refuses sensor names and values it cannot publish, and settings that make no sense", () => {
    const outbox = open(new MemoryStore());
    assert.throws(() => outbox.add("bad name", 1, 0), OutboxError, /sensor name/);
    assert.throws(() => outbox.add("t", Number.NaN, 0), OutboxError, /finite/);
    assert.throws(() => outbox.add("t", { nested: { deep: 1 } } as never, 0), OutboxError);
    assert.throws(() => outbox.add("t", "x".repeat(300), 0), OutboxError);
    assert.equal(outbox.size, 0, "nothing stored for a refused reading");
    assert.throws(() => outbox.markSent(99, 1), OutboxError, /not in the outbox/);
    outbox.add("t", 1, 0);
    assert.throws(() => outbox.markSent(1, 0), OutboxError, /packet identifier/);
    assert.throws(() => Outbox.open(new MemoryStore(), { capacity: 2, maxInflight: 2 }), OutboxError, /maxInflight/);
  });

  it("a failing store loses the reading being added and changes nothing else", () => {
    const store = new MemoryStore();
    const outbox = open(store);
    outbox.add("t", 1, 0);
    store.failWrites = new StorageError("flash full");
    assert.throws(() => outbox.add("t", 2, 0), StorageError, /flash full/);
    store.failWrites = undefined;
    assert.deepEqual(outbox.entries.map((e) => e.id), [1]);
    assert.equal(outbox.add("t", 3, 0).id, 2);
  });

  it("a power cut at any write of a run loses only the operation under way, never a stored reading, and counts each drop once", () => {
    // One scripted run: 8 readings into an outbox of 4 (so drops happen), some sent and acknowledged.
    const script = (outbox: Outbox, done: { added: number[]; acked: number[] }) => {
      for (let i = 1; i <= 8; i++) {
        const reading = outbox.add("t", i, i);
        done.added.push(reading.id);
        const unsent = outbox.nextUnsent();
        if (i % 2 === 0 && unsent) outbox.markSent(unsent.id, 1000 + unsent.id);
        if (i % 3 === 0) {
          const sent = outbox.inflight[0];
          if (sent && outbox.acknowledge(sent.id)) done.acked.push(sent.id);
        }
      }
    };
    const full = new FlakyStore(new Map());
    script(open(full, 4, 2), { added: [], acked: [] });
    const totalWrites = full.writes;
    assert.ok(totalWrites > 20, `the script makes ${totalWrites} writes`);
    for (let budget = 0; budget <= totalWrites; budget++) {
      const map = new Map<string, Uint8Array>();
      const done = { added: [] as number[], acked: [] as number[] };
      try {
        script(open(new FlakyStore(map, budget), 4, 2), done);
      } catch (error) {
        if (!(error instanceof PowerCut)) throw error;
      }
      const rebooted = open(new FlakyStore(map), 4, 2);
      const present = rebooted.entries.map((e) => e.id);
      const lost = done.added.filter((id) => !done.acked.includes(id) && !present.includes(id));
      // Every stored reading is still there, acknowledged, or counted as dropped — and no more.
      assert.equal(lost.length, rebooted.dropped, `budget ${budget}: readings gone ${JSON.stringify(lost)} vs dropped count ${rebooted.dropped}`);
      assert.ok(rebooted.size <= 4, `budget ${budget}: within capacity`);
      const highest = Math.max(0, ...done.added, ...present);
      assert.ok(rebooted.nextId > highest, `budget ${budget}: next id ${rebooted.nextId} is past every id used (${highest})`);
    }
  });

  it("matches a simple model over seeded random operations and reboots", () => {
    // A seeded xorshift generator (fast-check needs host timers that XS lacks; the Node-only fuzz
    // in test/integration/device-fuzz.test.ts runs fast-check over the same model).
    let state = 42;
    const random = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    for (let run = 0; run < 60; run++) {
      const ops = Array.from({ length: random(60) }, () => random(10));
      checkAgainstModel(ops.map((o) => (o < 4 ? { kind: "add" } : o < 6 ? { kind: "send" } : o < 9 ? { kind: "ack", which: random(4) } : { kind: "reboot" })));
    }
  });
});
