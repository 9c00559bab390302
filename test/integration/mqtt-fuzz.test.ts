/**
 * Seeded, bounded property tests of the MQTT codec, packet reader and client receive path:
 * valid packets survive encode → arbitrary splitting → decode unchanged; mutated or random bytes
 * end in a packet or a typed MqttError, never another exception, a hang or an unbounded buffer.
 * (Here rather than in test/unit: fast-check reads setTimeout at load time, which XS lacks.)
 */
import fc from "fast-check";
import { decodePacket, encodePacket, type MqttPacket, type QoS } from "../../modules/mqtt/codec.js";
import { MqttArgumentError, MqttError } from "../../modules/mqtt/errors.js";
import { MqttPacketReader } from "../../modules/mqtt/reader.js";
import * as assert from "../lib/portable/assert.js";
import { ManualPlatform } from "../lib/portable/manual-platform.js";
import { connectedClient } from "../unit/mqtt/fake-broker.js";

const SEED = { seed: 42 };
/** Records with Object.prototype, as the decoder builds them (deepEqual compares prototypes). */
const PLAIN = { noNullPrototype: true } as const;

const topicChar = fc.constantFrom("a", "b", "z", "0", "/", " ", "$", "é", "€", "\u{2A6D4}", "\uFEFF");
const topicName = fc.string({ unit: topicChar, minLength: 1, maxLength: 20 });
const topicFilter = fc
  .tuple(fc.array(fc.constantFrom("+", "a", "bc", "", "é"), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
  .filter((f) => f.length > 0);
const packetId = fc.integer({ min: 1, max: 0xffff });
const qos = fc.constantFrom<QoS>(0, 1, 2);
const bytes = fc.uint8Array({ maxLength: 64 });

const packet: fc.Arbitrary<MqttPacket> = fc.oneof(
  fc.record({
    type: fc.constant("connect" as const),
    protocolName: fc.constant("MQTT"),
    protocolLevel: fc.constant(4),
    clientId: fc.string({ unit: topicChar, minLength: 1, maxLength: 23 }),
    keepAliveSeconds: fc.integer({ min: 0, max: 0xffff }),
    cleanSession: fc.boolean(),
  }, PLAIN),
  fc.record({ type: fc.constant("connack" as const), sessionPresent: fc.boolean(), returnCode: fc.constant(0) }, PLAIN),
  fc.tuple(topicName, bytes, qos, fc.boolean(), fc.boolean(), packetId).map(([topic, payload, q, retain, dup, id]): MqttPacket =>
    q === 0 ? { type: "publish", topic, payload, qos: 0, retain, dup: false } : { type: "publish", topic, payload, qos: q, retain, dup, packetId: id },
  ),
  fc.record({ type: fc.constantFrom("puback" as const, "pubrec" as const, "pubrel" as const, "pubcomp" as const, "unsuback" as const), packetId }, PLAIN),
  fc.record({ type: fc.constant("subscribe" as const), packetId, subscriptions: fc.array(fc.record({ topicFilter, qos }, PLAIN), { minLength: 1, maxLength: 4 }) }, PLAIN),
  fc.record({ type: fc.constant("suback" as const), packetId, returnCodes: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 4 }) }, PLAIN),
  fc.record({ type: fc.constant("unsubscribe" as const), packetId, topicFilters: fc.array(topicFilter, { minLength: 1, maxLength: 4 }) }, PLAIN),
  fc.record({ type: fc.constantFrom("pingreq" as const, "pingresp" as const, "disconnect" as const) }, PLAIN),
);

/** Cuts `data` at the given (unsorted, possibly repeated) positions. */
function cut(data: Uint8Array, positions: number[]): Uint8Array[] {
  const points = positions.map((p) => p % (data.length + 1)).sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    parts.push(data.subarray(start, p));
    start = p;
  }
  parts.push(data.subarray(start));
  return parts;
}

function concat(list: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of list) {
    out.set(b, offset);
    offset += b.length;
  }
  return out;
}

/** Feeds chunks to a reader; returns the packets and the error it stopped on (which must be an MqttError). */
function feed(reader: MqttPacketReader, chunks: Uint8Array[], maxChunk: number): { packets: MqttPacket[]; error: unknown } {
  const packets: MqttPacket[] = [];
  try {
    for (const c of chunks) {
      reader.push(c);
      for (let p = reader.next(); p; p = reader.next()) packets.push(p);
      assert.ok(reader.buffered <= reader.maxPacketSize + maxChunk, `reader holds ${reader.buffered} bytes`);
    }
  } catch (error) {
    if (!(error instanceof MqttError)) throw error;
    return { packets, error };
  }
  return { packets, error: undefined };
}

describe("MQTT codec and reader: fuzz", () => {
  it("valid packets survive encode, arbitrary splitting and decode unchanged", () => {
    fc.assert(
      fc.property(fc.array(packet, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (packets, positions) => {
        const stream = concat(packets.map(encodePacket));
        const { packets: decoded, error } = feed(new MqttPacketReader(1 << 16), cut(stream, positions), stream.length);
        assert.equal(error, undefined);
        assert.deepEqual(decoded, packets);
      }),
      { ...SEED, numRuns: 400 },
    );
  });

  it("mutated packets decode to a packet or a typed MqttError", () => {
    fc.assert(
      fc.property(packet, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (p, edits, truncate) => {
        const encoded = encodePacket(p).slice();
        for (const [where, value] of edits) encoded[where % encoded.length] = value;
        const data = encoded.subarray(0, encoded.length - (truncate % 3));
        feed(new MqttPacketReader(256), [data], data.length);
      }),
      { ...SEED, numRuns: 2000 },
    );
  });

  it("random bytes never escape as anything but an MqttError, and the reader stays bounded", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), fc.integer({ min: 2, max: 300 }), (chunks, limit) => {
        const reader = new MqttPacketReader(limit);
        feed(reader, chunks, 40);
      }),
      { ...SEED, numRuns: 2000 },
    );
  });

  it("decodePacket never reads outside the body it is given", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 48 }), (firstByte, body) => {
        // A view into a larger buffer whose surroundings are poison: reading them would show up in the result.
        const backing = new Uint8Array(body.length + 32).fill(0xee);
        backing.set(body, 16);
        const view = backing.subarray(16, 16 + body.length);
        let decoded: MqttPacket | undefined;
        try {
          decoded = decodePacket(firstByte, view);
        } catch (error) {
          if (!(error instanceof MqttError)) throw error;
          return;
        }
        // Whatever decoded must encode back to exactly the bytes it came from. The one packet a
        // server must parse but a client may not send: CONNECT with an empty id and no clean session.
        if (decoded.type === "connect" && decoded.clientId === "" && !decoded.cleanSession) {
          assert.throws(() => encodePacket(decoded!), MqttArgumentError, /3\.1\.3-7/);
          return;
        }
        const again = encodePacket(decoded);
        assert.equal(again[0], firstByte);
        assert.deepEqual(again.subarray(again.length - body.length), body);
      }),
      { ...SEED, numRuns: 3000 },
    );
  });
});

describe("MQTT client receive path: fuzz", () => {
  it("a connected client fed random packets and bytes ends up closed with an MqttError or still connected, never throws", async () => {
    const validServerPacket = fc.oneof(
      fc.constant(encodePacket({ type: "pingresp" })),
      fc.tuple(topicName, bytes, fc.constantFrom<QoS>(0, 1), packetId).map(([topic, payload, q, id]) =>
        encodePacket(q === 0 ? { type: "publish", topic, payload, qos: 0, retain: false, dup: false } : { type: "publish", topic, payload, qos: 1, retain: false, dup: false, packetId: id }),
      ),
      packetId.map((id) => encodePacket({ type: "puback", packetId: id })),
    );
    const chunk = fc.oneof({ arbitrary: validServerPacket, weight: 3 }, { arbitrary: fc.uint8Array({ maxLength: 16 }), weight: 1 });
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { maxLength: 12 }), async (chunks) => {
        const platform = new ManualPlatform();
        const closes: (Error | undefined)[] = [];
        let delivered = 0;
        const { client, broker } = await connectedClient({ platform, clientId: "fuzz", maxPacketSize: 128, onMessage: () => void delivered++, onClose: (e) => closes.push(e) });
        for (const c of chunks) {
          if (broker.closed) break;
          broker.send(c);
          await platform.settle();
        }
        await platform.settle();
        assert.ok(closes.length <= 1, "onClose at most once");
        if (closes.length === 1) {
          assert.ok(closes[0] instanceof MqttError, String(closes[0]));
          assert.ok(!client.connected);
        }
        assert.ok(!platform.logs.some((l) => l.level === "error"), "no internal failure was logged");
        await client.abort();
        if (closes.length === 0) assert.ok(delivered <= chunks.length, "at most one message per chunk sent");
      }),
      { ...SEED, numRuns: 300 },
    );
  });
});
