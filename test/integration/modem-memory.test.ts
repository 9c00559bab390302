// The virtual modem on an in-memory link with a virtual clock: exact registration timing,
// data-mode timeouts, and seeded fuzzing of its line assembler and command-line parsers.
import assert from "node:assert/strict";
import fc from "fast-check";
import { asciiToBytes, bytesToAscii } from "../../modules/bytes/bytes.js";
import { memoryLinkPair, type MemoryLink } from "../../modules/platform/memory-link.js";
import { ManualPlatform } from "../lib/portable/manual-platform.js";
import { CommandLineAssembler, parseCommandLine, parseParameters } from "../../hosts/sim/modem/at-syntax.js";
import {
  AtSyntaxError,
  attachVirtualModem,
  byForm,
  DataTimeoutError,
  type ModemSetupOptions,
  type VirtualModem,
} from "../../hosts/sim/modem/index.js";
import { MinimalCard } from "../../hosts/sim/card/minimal-card.js";
import { classOnChannel, logicalChannelOfClass, parseCommandApdu, ApduFormatError } from "../../hosts/sim/card/card.js";

interface Bench {
  platform: ManualPlatform;
  modem: VirtualModem;
  host: MemoryLink;
  /** Everything the modem wrote since the last call. */
  output(): Promise<string>;
  send(text: string | Uint8Array): void;
}

function bench(options: ModemSetupOptions = {}): Bench {
  const platform = new ManualPlatform();
  const [host, modemEnd] = memoryLinkPair();
  const { modem } = attachVirtualModem(modemEnd, { platform, ...options });
  return {
    platform,
    modem,
    host,
    async output() {
      // The modem's work is promise chains (card, hooks): let them all run.
      for (let i = 0; i < 5; i++) await platform.settle();
      const bytes = host.read();
      return bytes ? bytesToAscii(bytes) : "";
    },
    send(text) {
      host.write(typeof text === "string" ? asciiToBytes(text) : text);
    },
  };
}

describe("virtual modem in memory", function () {
  it("registers exactly registrationDelayMs after AT+CFUN=1", async function () {
    const b = bench({ registrationDelayMs: 1000, initialFunctionality: 0 });
    b.send("ATE0\rAT+CEREG=1\r");
    assert.equal(await b.output(), "ATE0\r\r\nOK\r\n\r\nOK\r\n");
    b.send("AT+CFUN=1\r");
    assert.equal(await b.output(), "\r\nOK\r\n\r\n+CEREG: 2\r\n");
    await b.platform.advance(999);
    assert.equal(await b.output(), "");
    await b.platform.advance(1);
    assert.equal(await b.output(), "\r\n+CEREG: 1\r\n");
    b.modem.close();
  });

  it("holds URCs while a command runs and writes them after its final result code", async function () {
    let release: (() => void) | undefined;
    const b = bench({
      registrationDelayMs: 10,
      initialFunctionality: 0,
      hooks: {
        beforeCommand: (command) => (command.name === "+CGMM" ? new Promise<void>((resolve) => (release = resolve)) : undefined),
      },
    });
    b.send("ATE0\rAT+CEREG=1\rAT+CFUN=1\r");
    await b.output();
    b.send("AT+CGMM\r");
    await b.platform.advance(10); // registration completes while AT+CGMM is held
    assert.equal(await b.output(), "");
    release!();
    assert.equal(await b.output(), "\r\nVirtual Modem\r\n\r\nOK\r\n\r\n+CEREG: 1\r\n");
    b.modem.close();
  });

  it("a data read after a prompt times out with DataTimeoutError and the port returns to command mode", async function () {
    const outcomes: unknown[] = [];
    const b = bench({
      dialect: {
        name: "prompt-test",
        summary: "",
        commands: {
          "+XDATA": byForm({
            action: async (context) => {
              context.raw(asciiToBytes("> "));
              try {
                outcomes.push(bytesToAscii(await context.readData(4, 2000)));
              } catch (error) {
                outcomes.push(error);
                throw error;
              }
            },
          }),
        },
      },
    });
    b.send("ATE0\rAT+XDATA\r");
    assert.equal(await b.output(), "ATE0\r\r\nOK\r\n> ");
    b.send("ab");
    await b.platform.advance(1999);
    assert.equal(await b.output(), "");
    await b.platform.advance(1);
    assert.equal(await b.output(), "\r\nERROR\r\n");
    assert.ok(outcomes[0] instanceof DataTimeoutError);
    // Data that arrives in pieces, with AT-looking bytes in it, is read as data.
    b.send("AT+XDATA\r");
    assert.equal(await b.output(), "> ");
    b.send("AT");
    b.send("\r\n");
    assert.equal(await b.output(), "\r\nOK\r\n");
    assert.equal(outcomes[1], "AT\r\n");
    b.send("AT\r");
    assert.equal(await b.output(), "\r\nOK\r\n");
    b.modem.close();
  });

  it("stops talking once its link closes, and close() ends its timers", async function () {
    const b = bench({ registrationDelayMs: 5000 });
    assert.equal(b.platform.pendingTimers, 1, "registration timer");
    b.host.close();
    await b.platform.settle();
    assert.equal(b.modem.ports.length, 0);
    b.modem.close();
    assert.equal(b.platform.pendingTimers, 0);
  });

  it("survives random bytes: answers a following AT with OK, within its line bound (seeded fuzz)", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }), async (chunks) => {
        const b = bench({ maxLineLength: 256 });
        b.send("ATE0\r");
        await b.output();
        for (const chunk of chunks) b.send(chunk);
        await b.output();
        // Anything the noise switched (echo, verbose, quiet, a pending data read) is undone by a fresh line.
        b.send("\rATZ\r");
        await b.output();
        b.send("ATE0\r");
        await b.output();
        b.send("AT\r");
        const answer = await b.output();
        b.modem.close();
        return answer === "\r\nOK\r\n";
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it("parsers fail only with AtSyntaxError, whatever the text (seeded fuzz)", function () {
    const atLike = fc.stringMatching(/^[A-Za-z+&;=?", 0-9#%]{0,60}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), atLike), (text) => {
        for (const parse of [parseCommandLine, parseParameters]) {
          try {
            const result = parse(text);
            assert.ok(result.length <= 32);
          } catch (error) {
            if (!(error instanceof AtSyntaxError)) throw error;
          }
        }
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it("the line assembler never holds more than its bound and resynchronises at CR", function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (noise) => {
        const assembler = new CommandLineAssembler(64);
        let offset = 0;
        while (offset < noise.length) {
          const { next } = assembler.push(noise, offset);
          assert.ok(next > offset && next <= noise.length);
          assert.ok(assembler.pending <= 64);
          offset = next;
        }
        const { line } = assembler.push(asciiToBytes("\rAT+CSQ\r"));
        // Whatever came before ends at the first CR; the next line is intact.
        const second = assembler.push(asciiToBytes("AT+CSQ\r"));
        assert.ok(line !== undefined);
        assert.deepEqual(second.line, { kind: "line", bytes: asciiToBytes("AT+CSQ") });
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("splits command lines as V.250 does", function () {
    assert.deepEqual(parseCommandLine("E0V1;+CMEE=1;+CSIM=10,\"0070000001\";+CEREG?;+CFUN=?;&F"), [
      { name: "E", form: "action", args: "0" },
      { name: "V", form: "action", args: "1" },
      { name: "+CMEE", form: "set", args: "1" },
      { name: "+CSIM", form: "set", args: '10,"0070000001"' },
      { name: "+CEREG", form: "read", args: "" },
      { name: "+CFUN", form: "test", args: "" },
      { name: "&F", form: "action", args: "" },
    ]);
    assert.deepEqual(parseCommandLine('#XSEND="a;b"'), [{ name: "#XSEND", form: "set", args: '"a;b"' }]);
    assert.deepEqual(parseParameters(' 10 , "00 70" ,,x'), [
      { value: "10", quoted: false },
      { value: "00 70", quoted: true },
      { value: "", quoted: false },
      { value: "x", quoted: false },
    ]);
    assert.throws(() => parseCommandLine("+CSIM=1,\"00"), AtSyntaxError);
    assert.throws(() => parseCommandLine("+CSQ E0"), AtSyntaxError);
    assert.throws(() => parseParameters('"a"b'), AtSyntaxError);
  });
});

describe("card helpers and the minimal card", function () {
  it("codes and decodes logical channels in CLA (TS 102 221 §10.1.1)", function () {
    // First interindustry form: channel in b1-b2; further form: 0x40 + (n - 4).
    assert.equal(classOnChannel(0x00, 1), 0x01);
    assert.equal(classOnChannel(0x80, 3), 0x83);
    assert.equal(classOnChannel(0x00, 4), 0x40);
    assert.equal(classOnChannel(0x80, 19), 0xcf);
    assert.equal(classOnChannel(0xc5, 2), 0x82, "further form back to the first form");
    for (let channel = 0; channel <= 19; channel++) {
      assert.equal(logicalChannelOfClass(classOnChannel(0x00, channel)), channel);
      assert.equal(logicalChannelOfClass(classOnChannel(0x80, channel)), channel);
    }
  });

  it("parses short and extended APDUs and refuses malformed ones", function () {
    assert.deepEqual(parseCommandApdu(Uint8Array.of(0, 0x70, 0, 0, 1)).le, 1);
    assert.deepEqual(parseCommandApdu(Uint8Array.of(0, 0xa4, 4, 0, 2, 0xa0, 0x00, 0)).data, Uint8Array.of(0xa0, 0));
    assert.equal(parseCommandApdu(Uint8Array.of(0, 0xb0, 0, 0, 0, 0x01, 0x00)).le, 256);
    assert.equal(parseCommandApdu(Uint8Array.of(0, 0xb0, 0, 0, 0, 0x01, 0x00)).extended, true);
    assert.throws(() => parseCommandApdu(Uint8Array.of(0, 0xa4, 4)), ApduFormatError);
    assert.throws(() => parseCommandApdu(Uint8Array.of(0, 0xa4, 4, 0, 5, 1)), ApduFormatError);
  });

  it("allocates channels 1..19, then answers 6A81; closes; refuses commands on closed channels", async function () {
    const card = new MinimalCard();
    const open = Uint8Array.of(0x00, 0x70, 0x00, 0x00, 0x01);
    for (let channel = 1; channel <= 19; channel++) {
      assert.deepEqual(await card.transmit(open), Uint8Array.of(channel, 0x90, 0x00));
    }
    assert.deepEqual(await card.transmit(open), Uint8Array.of(0x6a, 0x81));
    assert.deepEqual(await card.transmit(Uint8Array.of(0x00, 0x70, 0x80, 0x05, 0x00)), Uint8Array.of(0x90, 0x00));
    // Channel 5 is in the further form: CLA 0x41.
    assert.deepEqual(await card.transmit(Uint8Array.of(0x41, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0, 0, 5, 0x59, 0, 0x10)), Uint8Array.of(0x68, 0x81));
    assert.deepEqual(await card.transmit(open), Uint8Array.of(5, 0x90, 0x00));
    assert.deepEqual(await card.transmit(Uint8Array.of(0x41, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0, 0, 5, 0x59, 0, 0x10)), Uint8Array.of(0x90, 0x00));
    assert.deepEqual(await card.transmit(Uint8Array.of(0x81, 0x2a, 0x00, 0x01, 0x00)), Uint8Array.of(0x6d, 0x00));
    assert.deepEqual(await card.transmit(Uint8Array.of(0xff, 0x2a, 0x00, 0x01)), Uint8Array.of(0x6e, 0x00));
    assert.deepEqual(await card.transmit(Uint8Array.of(0x80, 0xa4, 0x04, 0x00, 0x01, 0xa0)), Uint8Array.of(0x6e, 0x00));
    assert.deepEqual(await card.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0, 0, 2, 0x48, 4, 0)), Uint8Array.of(0x90, 0x00), "Thales AID");
  });
});
