/**
 * Seeded, bounded property tests of the AT engine's receive side: hostile byte streams never
 * throw out of it or grow its buffers past the configured bounds, and a well-formed response
 * after garbage is still parsed exactly.
 * (Here rather than in test/unit: fast-check reads setTimeout at load time, which XS lacks.)
 */
import fc from "fast-check";
import { lengthFromField, type AtSendOptions } from "../../modules/at/engine.js";
import { AtError } from "../../modules/at/errors.js";
import * as assert from "../lib/portable/assert.js";
import { latin1, rig, watch } from "../unit/at/fake-modem.js";

// Small limits, so that random streams reach them often.
const LIMITS = { maxLineLength: 48, maxDataLength: 64, maxResponseLength: 160 };

/** Fragments that drive the parser into its different states, mixed with random bytes. */
const TOKENS = ["\r", "\n", "\r\n", "\r\n+CSQ: 1,2\r\n", "\r\n+QIRD: 3\r\n", "\r\n+CARECV: 0\r\n", "\r\nsome info line\r\n", "OK", "ERROR", "+CME ERROR: ", "+CMS ERROR: 5", "NO CARRIER", "SEND OK", "> ", "@", "+QIRD: ", "+QIRD: 3", "+CARECV: 2,", ",", "12", "0", "999999", "+QIURC: \"recv\",0", "AT+QIRD=0,100", "\x00", "\xff"];
const chunk = fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 48 }), weight: 1 }, { arbitrary: fc.constantFrom(...TOKENS).map(latin1), weight: 3 });

const COMMANDS: [string, AtSendOptions][] = [
  ["AT+CSQ", { prefix: "+CSQ:" }],
  ["AT+X", {}],
  ["AT+QIRD=0,100", { prefix: "+QIRD:", dataHeader: { prefix: "+QIRD:", length: lengthFromField(0, 1) } }],
  ["AT+CARECV=0,100", { prefix: "+CARECV:", dataHeader: { prefix: "+CARECV:", length: lengthFromField(0, 1), inline: true } }],
  ["AT+QISEND=0,3", { payload: { data: Uint8Array.of(1, 2, 3) }, finalResults: ["SEND OK"] }],
];

/** Cuts `bytes` at the given (unsorted, possibly repeated) positions. */
function cut(bytes: Uint8Array, positions: number[]): Uint8Array[] {
  const points = positions.map((p) => p % (bytes.length + 1)).sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    parts.push(bytes.subarray(start, p));
    start = p;
  }
  parts.push(bytes.subarray(start));
  return parts;
}

describe("AT engine: fuzz", () => {
  it("survives random byte streams, idle or with any kind of command pending, within its memory bounds", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { maxLength: 120, size: "max" }), fc.integer({ min: -1, max: COMMANDS.length - 1 }), async (chunks, which) => {
        const { at, modem, platform } = rig(undefined, LIMITS);
        at.onUrc("+QIURC:", () => {});
        const entry = COMMANDS[which];
        const outcome = entry ? watch(at.send(entry[0], entry[1])) : undefined;
        await platform.settle();
        const bound = LIMITS.maxLineLength + LIMITS.maxDataLength + LIMITS.maxResponseLength;
        for (const c of chunks) {
          modem.reply(c);
          await platform.settle();
          assert.ok(at.bufferedBytes <= bound, `holds ${at.bufferedBytes} bytes`);
        }
        await platform.advance(20_000); // timeout and a (failing) resync run to completion
        assert.ok(!platform.logs.some((l) => l.level === "error"), "no internal failure was logged");
        if (outcome) {
          assert.ok(outcome.settled, "the command ended (result or error) after its timeout");
          if (outcome.error !== undefined) assert.ok(outcome.error instanceof AtError, String(outcome.error));
        }
        at.close();
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("parses a well-formed length-framed response that follows garbage and CR LF", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 6 }), async (garbage, payload, cuts) => {
        const { at, modem, platform } = rig();
        modem.reply(garbage);
        modem.reply("\r\n");
        await platform.settle();
        const outcome = watch(at.send("AT+QIRD=0,200", { prefix: "+QIRD:", dataHeader: { prefix: "+QIRD:", length: lengthFromField(0, 1) } }));
        await platform.settle();
        const response = new Uint8Array([...latin1(`\r\n+QIRD: ${payload.length}\r\n`), ...payload, ...latin1("\r\n\r\nOK\r\n")]);
        for (const part of cut(response, cuts)) {
          modem.reply(part);
          await platform.settle();
        }
        assert.equal(outcome.error, undefined);
        assert.deepEqual(outcome.value?.lines, [`+QIRD: ${payload.length}`]);
        assert.deepEqual(outcome.value?.data, [payload]);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("parses a response after a garbage line received while the command is pending", async () => {
    const noLineEnd = fc.uint8Array({ maxLength: 100 }).map((b) => Uint8Array.from([0x80, ...b.filter((x) => x !== 0x0d && x !== 0x0a)]));
    await fc.assert(
      fc.asyncProperty(noLineEnd, fc.array(fc.nat(), { maxLength: 6 }), async (garbage, cuts) => {
        const { at, modem, platform } = rig();
        const outcome = watch(at.send('AT+CSIM=10,"0070000001"', { prefix: "+CSIM:" }));
        await platform.settle();
        const response = new Uint8Array([...garbage, ...latin1('\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n')]);
        for (const part of cut(response, cuts)) {
          modem.reply(part);
          await platform.settle();
        }
        assert.deepEqual(outcome.value?.lines, ['+CSIM: 6,"019000"']);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
