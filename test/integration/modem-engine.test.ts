// Firmware → AT engine (modules/at) → TCP ByteLink → virtual modem → card: the whole path a
// device takes to its SIM, plus a test dialect that exercises the modem's prompt/raw-data hooks.
import assert from "node:assert/strict";
import { bytesToAscii } from "../../modules/bytes/bytes.js";
import { AtEngine, lengthFromField } from "../../modules/at/engine.js";
import { AtCmeError } from "../../modules/at/errors.js";
import type { ByteLink } from "../../modules/platform/platform.js";
import { connectTcpLink } from "../../hosts/node/links.js";
import { nodePlatform } from "../../hosts/node/platform.js";
import {
  byForm,
  CME,
  CmeError,
  integerParam,
  type ModemDialect,
  type RunningVirtualModem,
  startVirtualModem,
} from "../../hosts/sim/modem/index.js";

/** A made-up vendor dialect: a prompt-and-data send and a length-framed receive, as real socket commands do. */
function testDialect(sent: Uint8Array[]): ModemDialect {
  return {
    name: "test-sockets",
    summary: "test dialect",
    identity: { manufacturer: "TestVendor" },
    commands: {
      "+XSEND": byForm({
        set: async (context, params) => {
          const length = integerParam(params, 0, 1, 1500);
          context.raw(Uint8Array.of(0x3e, 0x20)); // "> " with no line ending
          sent.push(await context.readData(length, 5000));
          context.setFinalResult("SEND OK");
        },
      }),
      "+XRECV": byForm({
        set: (context, params) => {
          const length = integerParam(params, 0, 1, 64);
          if (length > 40) throw new CmeError(CME.OPERATION_NOT_ALLOWED);
          // Payload bytes that look like AT framing, so a line-based reader would be fooled.
          const payload = Uint8Array.from({ length }, (_, i) => [0x0d, 0x0a, 0x4f, 0x4b][i % 4]!);
          context.info(`+XRECV: ${length}`);
          context.raw(payload);
        },
      }),
    },
  };
}

describe("AT engine driving the virtual modem over TCP", function () {
  let running: RunningVirtualModem;
  let link: ByteLink;
  let engine: AtEngine;
  const sent: Uint8Array[] = [];

  beforeEach(async function () {
    sent.length = 0;
    running = await startVirtualModem({ listen: { host: "127.0.0.1", port: 0 }, registrationDelayMs: 30, dialect: testDialect(sent) });
    link = await connectTcpLink("127.0.0.1", running.port!);
    engine = new AtEngine(link, nodePlatform({ logLevel: "warn" }), { defaultTimeoutMs: 5000 });
  });

  afterEach(async function () {
    engine.close();
    await running.close();
  });

  it("exchanges APDUs through AT+CSIM, with the modem's echo on and then off", async function () {
    assert.deepEqual((await engine.send("AT")).lines, []);
    await engine.send("ATE0");
    await engine.send("AT+CMEE=1");
    const opened = await engine.send('AT+CSIM=10,"0070000001"', { prefix: "+CSIM:" });
    assert.deepEqual(opened.lines, ['+CSIM: 6,"019000"']);
    const selected = await engine.send('AT+CSIM=24,"01A4040007A0000005590010"', { prefix: "+CSIM:" });
    assert.deepEqual(selected.lines, ['+CSIM: 4,"9000"']);
    await assert.rejects(engine.send('AT+CSIM=5,"0070000001"'), (error: unknown) => error instanceof AtCmeError && error.code === 50);
    assert.deepEqual((await engine.send("AT+CGMI")).lines, ["TestVendor"]);
  });

  it("opens, uses and closes a logical channel through CCHO/CGLA/CCHC", async function () {
    await engine.send("ATE0");
    await engine.send("AT+CMEE=1");
    const opened = await engine.send('AT+CCHO="A0000005590010"', { prefix: "+CCHO:" });
    const sessionId = Number(/^\+CCHO: (\d+)$/.exec(opened.lines[0] ?? "")?.[1]);
    assert.ok(Number.isInteger(sessionId) && sessionId > 19);
    // The minimal card knows no IoT SAFE instruction: 6D00 back through CGLA.
    const answered = await engine.send(`AT+CGLA=${sessionId},10,"80CA000000"`, { prefix: "+CGLA:" });
    assert.deepEqual(answered.lines, ['+CGLA: 4,"6D00"']);
    await engine.send(`AT+CCHC=${sessionId}`);
    await assert.rejects(engine.send(`AT+CCHC=${sessionId}`), (error: unknown) => error instanceof AtCmeError && error.code === 21);
  });

  it("receives +CEREG URCs after AT+CFUN=1", async function () {
    await engine.send("ATE0");
    const urcs: string[] = [];
    engine.onUrc("+CEREG:", (line) => urcs.push(line));
    await engine.send("AT+CEREG=1");
    await engine.send("AT+CFUN=0");
    await engine.send("AT+CFUN=1");
    const deadline = Date.now() + 5000;
    while (!urcs.includes("+CEREG: 1") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(urcs.slice(-2), ["+CEREG: 2", "+CEREG: 1"]);
    assert.deepEqual((await engine.send("AT+CEREG?", { prefix: "+CEREG:" })).lines, ["+CEREG: 1,1"]);
  });

  it("a dialect command can prompt for raw data and answer a custom final result", async function () {
    await engine.send("ATE0");
    const data = Uint8Array.from([0x41, 0x54, 0x0d, 0x0a, 0x00, 0xff, 0x4f, 0x4b, 0x0d]);
    const response = await engine.send(`AT+XSEND=${data.length}`, { payload: { data }, finalResults: ["SEND OK"] });
    assert.equal(response.final, "SEND OK");
    assert.deepEqual(sent, [data]);
    // The modem is back in command mode.
    assert.equal((await engine.send("AT")).final, "OK");
  });

  it("a dialect command can answer a length-framed binary payload", async function () {
    await engine.send("ATE0");
    const response = await engine.send("AT+XRECV=10", { dataHeader: { prefix: "+XRECV:", length: lengthFromField(0, 1) } });
    assert.equal(response.data.length, 1);
    assert.equal(bytesToAscii(response.data[0]!), "\r\nOK\r\nOK\r\n");
  });
});
