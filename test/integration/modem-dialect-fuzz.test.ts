/**
 * Seeded, bounded property tests of what the modem drivers parse: answer fields, clocks,
 * registration lines, and every dialect's socket-read answer and URCs. Hostile input ends in a
 * typed error (ModemError, AtError) or a well-formed result, never an untyped throw, a hang, or
 * more bytes than asked for. (Here rather than in test/unit: fast-check needs setTimeout, absent in XS.)
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { AtError } from "../../modules/at/errors.js";
import { ModemError, type ModemSocket } from "../../modules/modem/index.js";
import { parseClock, parseInteger, registrationStatus, splitFields } from "../../modules/modem/parse.js";
import { answerBasics, driverRig, latin1, OK, run, type ScriptModem } from "../unit/modem/script-modem.js";
import { atEngineOptions } from "../../modules/modem/index.js";

const RUNS = { seed: 42, numRuns: 300 };

function typed(error: unknown): boolean {
  return error instanceof ModemError || error instanceof AtError || error instanceof RangeError;
}

describe("modem parsers under hostile input (seeded fuzz)", function () {
  it("splitFields, parseInteger, parseClock and registrationStatus return or throw ModemError", function () {
    const text = fc.string({ maxLength: 700, unit: fc.constantFrom(..."0123456789,\" +-/:CEREG\r\n\x00xyz".split("")) });
    fc.assert(
      fc.property(text, (input) => {
        for (const parse of [() => splitFields(input), () => parseInteger(input, -5, 5000, "n"), () => parseClock(input), () => registrationStatus(`+CEREG:${input}`, "+CEREG:", "read"), () => registrationStatus(`+CEREG:${input}`, "+CEREG:", "urc")]) {
          try {
            const value = parse();
            if (value instanceof Date) assert.ok(!Number.isNaN(value.getTime()));
          } catch (error) {
            assert.ok(error instanceof ModemError, String(error));
          }
        }
      }),
      RUNS,
    );
  });

  it("parseClock reads back every valid clock it is given, in UTC", function () {
    fc.assert(
      fc.property(fc.date({ min: new Date(Date.UTC(1970, 0, 2)), max: new Date(Date.UTC(2069, 11, 30)), noInvalidDate: true }), fc.integer({ min: -48, max: 56 }), (date, quarters) => {
        const local = new Date(date.getTime() - (date.getTime() % 1000) + quarters * 15 * 60000);
        const two = (n: number) => String(n).padStart(2, "0");
        const text = `"${two(local.getUTCFullYear() % 100)}/${two(local.getUTCMonth() + 1)}/${two(local.getUTCDate())},${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}${quarters < 0 ? "-" : "+"}${two(Math.abs(quarters))}"`;
        assert.equal(parseClock(text).getTime(), date.getTime() - (date.getTime() % 1000));
      }),
      RUNS,
    );
  });
});

/** Per dialect: how to reach an open socket, and the read command whose answer is fuzzed. */
const DIALECTS: { name: string; setup(script: ScriptModem): void; read: RegExp; open: string; frame(length: string, payload: string): string }[] = [
  {
    name: "quectel-bg95",
    setup: (s) => s.on(/^AT\+QIOPEN=/, () => s.send(`${OK}\r\n+QIOPEN: 0,0\r\n`)),
    read: /^AT\+QIRD=/,
    open: "+QIURC: \"recv\",0",
    frame: (n, payload) => `\r\n+QIRD: ${n}\r\n${payload}\r\n`,
  },
  { name: "simcom-sim7080", setup: (s) => s.on(/^AT\+CAOPEN=/, `\r\n+CAOPEN: 0,0\r\n${OK}`), read: /^AT\+CARECV=/, open: "+CADATAIND: 0", frame: (n, payload) => `\r\n+CARECV: ${n},${payload}` },
  {
    name: "ublox-sara-r5",
    setup: (s) => s.on("AT+UPSV=0", OK).on("AT+USOCR=6", `\r\n+USOCR: 0\r\n${OK}`).on(/^AT\+USOCO=/, () => s.send(`${OK}\r\n+UUSOCO: 0,0\r\n`)),
    read: /^AT\+USORD=/,
    open: "+UUSORD: 0,5",
    frame: (n, payload) => `\r\n+USORD: 0,${n},"${payload}"\r\n`,
  },
  {
    name: "sequans-gm02s",
    setup: (s) => s.on(/^AT\+SQNSCFG/, OK).on(/^AT\+SQNSD=/, OK),
    read: /^AT\+SQNSRECV=/,
    open: "+SQNSRING: 1,5",
    frame: (n, payload) => `\r\n+SQNSRECV: 1,${n}\r\n${payload}`,
  },
  {
    name: "nordic-slm",
    setup: (s) =>
      s
        .on("AT#XSOCKET=1,1,0", `\r\n#XSOCKET: 0,1,6\r\n${OK}`)
        .on(/^AT#XCONNECT=/, `\r\n#XCONNECT: 1\r\n${OK}`)
        .on(/^AT#XPOLL=/, `\r\n#XPOLL: 0,"0x0001"\r\n${OK}`)
        .on("AT+CFUN?", `\r\n+CFUN: 1\r\n${OK}`),
    read: /^AT#XRECV=/,
    open: "#XPOLL: 0,\"0x0001\"",
    frame: (n, payload) => `\r\n#XRECV: ${n}\r\n${payload}`,
  },
];

const FRAGMENTS = ["\r\n", "OK", "ERROR", "+CME ERROR: 3", "+QIRD: ", "+CARECV: ", "+USORD: 0,", "+SQNSRECV: 1,", "#XRECV: ", '"', ",", "5", "0", "99999", "\r\nOK\r\n", "+QIURC: \"closed\",0", "> ", "\x00", "\xff"];
const garbage = fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 12 })), { maxLength: 8 }).map((parts) => parts.join(""));
/** A well-formed read answer (often), or one with a wrong length, a missing final code, or garbage around it. */
function answerOf(frame: (length: string, payload: string) => string) {
  const payload = fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b))), { maxLength: 30 }).map((p) => p.join("").slice(0, 60));
  return fc
    .record({
      payload,
      lengthDelta: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.integer({ min: -5, max: 5 }), weight: 1 }),
      final: fc.oneof({ arbitrary: fc.constant("\r\nOK\r\n"), weight: 4 }, { arbitrary: fc.constantFrom("", "\r\nERROR\r\n", "\r\n+CME ERROR: 3\r\n"), weight: 1 }),
      before: fc.oneof({ arbitrary: fc.constant(""), weight: 4 }, { arbitrary: garbage, weight: 1 }),
      after: fc.oneof({ arbitrary: fc.constant(""), weight: 4 }, { arbitrary: garbage, weight: 1 }),
    })
    .map(({ payload, lengthDelta, final, before, after }) => before + frame(String(Math.max(0, payload.length + lengthDelta)), payload) + final + after);
}

describe("modem drivers: hostile socket-read answers and URCs (seeded fuzz)", function () {
  this.timeout(60000);
  for (const dialect of DIALECTS) {
    it(`${dialect.name}: a read resolves with at most the bytes asked for, or rejects with a typed error, within its timeout`, async function () {
      const outcomes = { data: 0, end: 0, error: 0 };
      await fc.assert(
        fc.asyncProperty(answerOf(dialect.frame), fc.array(fc.constantFrom(...FRAGMENTS, dialect.open), { maxLength: 4 }), async (reply, urcs) => {
          const rig = driverRig(dialect.name, { healthCheckMs: 0, timeouts: { dataBaseMs: 500, commandMs: 500 }, autoRecover: false }, { ...atEngineOptions(dialect.name as "generic"), resyncAttempts: 1 });
          answerBasics(rig.script);
          dialect.setup(rig.script);
          await run(rig.platform, rig.modem.init());
          let socket: ModemSocket;
          try {
            socket = await run(rig.platform, rig.modem.openTcp("10.0.0.1", 80, { pollIntervalMs: 0, readTimeoutMs: 5000 }));
          } catch (error) {
            assert.ok(typed(error), String(error));
            return;
          }
          rig.script.on(dialect.read, () => rig.script.send(latin1(reply)));
          for (const urc of urcs) rig.script.send(latin1(`\r\n${urc}\r\n`));
          const read = socket.read(64);
          try {
            const data = await run(rig.platform, read, 20000);
            assert.ok(data === null || (data.length >= 1 && data.length <= 64));
            if (data === null) outcomes.end++;
            else outcomes.data++;
          } catch (error) {
            assert.ok(typed(error), String(error));
            outcomes.error++;
          }
          assert.ok(rig.at.bufferedBytes < 10000);
          rig.modem.dispose();
          rig.at.close();
        }),
        { seed: 42, numRuns: 60 },
      );
      // The generator must reach the interesting outcomes, or the property says little.
      assert.ok(outcomes.error > 0 && outcomes.data + outcomes.end > 0, JSON.stringify(outcomes));
    });
  }
});
