import { AtEngine } from "../../../modules/at/engine.js";
import { AtCmeError, AtCmsError, AtCommandError, AtInvalidCommandError } from "../../../modules/at/errors.js";
import { memoryLinkPair } from "../../../modules/platform/memory-link.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { FakeModem, rig, watch } from "./fake-modem.js";

describe("AT engine: responses and result codes", () => {
  it("sends the command with CR and collects every info line when no prefix is given", async () => {
    const { at, modem } = rig((command, m) => {
      if (command === "AT+CGMI") m.reply("\r\nQuectel\r\n\r\nOK\r\n");
    });
    const response = await at.send("AT+CGMI");
    assert.equal(modem.received, "AT+CGMI\r");
    assert.deepEqual(response.lines, ["Quectel"]);
    assert.equal(response.final, "OK");
    assert.deepEqual(response.data, []);
  });

  it("appends CR LF when configured", async () => {
    const { at, modem } = rig((_c, m) => m.reply("\r\nOK\r\n"), { lineEnding: "\r\n" });
    await at.send("AT");
    assert.equal(modem.received, "AT\r\n");
  });

  it("with a prefix, keeps only the lines that start with it", async () => {
    const { at } = rig((_c, m) => m.reply('\r\nsome noise\r\n+CSIM: 4,"9000"\r\n\r\nOK\r\n'));
    const response = await at.send('AT+CSIM=10,"0070000001"', { prefix: "+CSIM:" });
    assert.deepEqual(response.lines, ['+CSIM: 4,"9000"']);
  });

  it("accepts an AT+CSIM response line of ~530 characters with the default line limit", async () => {
    const hex = "AB".repeat(256) + "9000";
    const { at } = rig((_c, m) => m.reply(`\r\n+CSIM: ${hex.length},"${hex}"\r\n\r\nOK\r\n`));
    const response = await at.send('AT+CSIM=10,"00B0000000"', { prefix: "+CSIM:" });
    assert.equal(response.lines[0], `+CSIM: ${hex.length},"${hex}"`);
  });

  for (const echo of [true, false]) {
    it(`works with echo ${echo ? "on" : "off"}: the echoed command line is dropped`, async () => {
      const { at } = rig((command, m) => m.reply(`${echo ? command + "\r" : ""}\r\n866425031234567\r\n\r\nOK\r\n`));
      const first = await at.send("AT+CGSN");
      assert.deepEqual(first.lines, ["866425031234567"]);
      const second = await at.send("AT+CGSN");
      assert.deepEqual(second.lines, ["866425031234567"]);
    });
  }

  it("parses a response delivered one byte at a time", async () => {
    const { at, modem, platform } = rig();
    const text = 'AT+CSIM=10,"0070000001"\r\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n';
    const outcome = watch(at.send('AT+CSIM=10,"0070000001"', { prefix: "+CSIM:" }));
    await platform.settle();
    const finalEnd = text.lastIndexOf("OK\r") + 3;
    for (let i = 0; i < text.length; i++) {
      modem.reply(text[i]!);
      await platform.settle();
      assert.equal(outcome.settled, i + 1 >= finalEnd, `after byte ${i}`);
    }
    assert.deepEqual(outcome.value?.lines, ['+CSIM: 6,"019000"']);
    assert.equal(outcome.value?.final, "OK");
  });

  it("parses a response split at every byte boundary", async () => {
    const text = 'AT+CSIM=10,"0070000001"\r\r\n+CSIM: 6,"019000"\r\n\r\n+CEREG: 1\r\n\r\nOK\r\n';
    for (let split = 1; split < text.length; split++) {
      const { at, modem, platform } = rig();
      const urcs: string[] = [];
      at.onUrc("+CEREG:", (line) => urcs.push(line));
      const outcome = watch(at.send('AT+CSIM=10,"0070000001"', { prefix: "+CSIM:" }));
      await platform.settle();
      modem.reply(text.slice(0, split));
      await platform.settle();
      modem.reply(text.slice(split));
      await platform.settle();
      assert.deepEqual(outcome.value?.lines, ['+CSIM: 6,"019000"'], `split at ${split}`);
      assert.deepEqual(urcs, ["+CEREG: 1"], `split at ${split}`);
    }
  });

  it("rejects ERROR with AtCommandError naming the command", async () => {
    const { at } = rig((_c, m) => m.reply("\r\nERROR\r\n"));
    const error = await assert.rejects(at.send("AT+COPS?"), AtCommandError, /^AT\+COPS\?: ERROR$/);
    assert.equal((error as AtCommandError).final, "ERROR");
    assert.equal((error as AtCommandError).command, "AT+COPS?");
  });

  it("rejects numeric +CME ERROR with the code and its 27.007 meaning", async () => {
    const { at } = rig((_c, m) => m.reply("\r\n+CME ERROR: 14\r\n"));
    const error = await assert.rejects(at.send('AT+CSIM=10,"0070000001"', { prefix: "+CSIM:" }), AtCmeError);
    assert.equal(error.message, 'AT+CSIM=10,"0070000001": +CME ERROR: 14 (SIM busy)');
    assert.equal((error as AtCmeError).code, 14);
    assert.equal((error as AtCmeError).text, "SIM busy");
    assert.equal((error as AtCmeError).final, "+CME ERROR: 14");
    assert.ok(error instanceof AtCommandError, "AtCmeError is an AtCommandError");
  });

  it("names other common CME codes (27.007 §9.2.1)", async () => {
    const expected: [number, string][] = [[3, "operation not allowed"], [10, "SIM not inserted"], [13, "SIM failure"], [50, "incorrect parameters"]];
    for (const [code, meaning] of expected) {
      const { at } = rig((_c, m) => m.reply(`\r\n+CME ERROR: ${code}\r\n`));
      const error = (await assert.rejects(at.send("AT+CCHO=\"A0\""), AtCmeError)) as AtCmeError;
      assert.equal(error.code, code);
      assert.equal(error.text, meaning);
    }
  });

  it("rejects verbose +CME ERROR text: known text gets its code, unknown text keeps code undefined", async () => {
    const { at } = rig((command, m) => m.reply(command === "AT+A" ? "\r\n+CME ERROR: operation not allowed\r\n" : "\r\n+CME ERROR: vendor specific trouble\r\n"));
    const known = (await assert.rejects(at.send("AT+A"), AtCmeError, /\+CME ERROR: operation not allowed/)) as AtCmeError;
    assert.equal(known.code, 3);
    const unknown = (await assert.rejects(at.send("AT+B"), AtCmeError)) as AtCmeError;
    assert.equal(unknown.code, undefined);
    assert.equal(unknown.text, "vendor specific trouble");
  });

  it("rejects +CMS ERROR with AtCmsError", async () => {
    const { at } = rig((_c, m) => m.reply("\r\n+CMS ERROR: 500\r\n"));
    const error = (await assert.rejects(at.send("AT+CMGS=20"), AtCmsError, /\+CMS ERROR: 500/)) as AtCmsError;
    assert.equal(error.code, 500);
  });

  for (const final of ["NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "ABORT"]) {
    it(`rejects the final result code ${final}`, async () => {
      const { at } = rig((_c, m) => m.reply(`\r\n${final}\r\n`));
      const error = (await assert.rejects(at.send("ATD*99#"), AtCommandError)) as AtCommandError;
      assert.equal(error.final, final);
    });
  }

  it("ends a command on a declared CONNECT and on declared extra finals", async () => {
    const { at } = rig((command, m) => {
      if (command === "ATD*99#") m.reply("\r\nCONNECT 150000000\r\n");
      if (command === "AT+CIPSEND=0,1") m.reply("\r\nDATA ACCEPT:0,1\r\n");
    });
    const dial = await at.send("ATD*99#", { finalResults: ["CONNECT"] });
    assert.equal(dial.final, "CONNECT 150000000");
    const accept = await at.send("AT+CIPSEND=0,1", { finalResults: ["DATA ACCEPT:"] });
    assert.equal(accept.final, "DATA ACCEPT:0,1");
  });

  it("rejects a declared error result with AtCommandError", async () => {
    const { at, modem } = rig((command, m) => {
      if (command === "AT+QISEND=0,2") {
        m.expectRaw(2, () => m.reply("\r\nSEND FAIL\r\n"));
        m.reply("\r\n> ");
      }
    });
    const sending = at.send("AT+QISEND=0,2", { payload: { data: Uint8Array.of(1, 2) }, finalResults: ["SEND OK"], errorResults: ["SEND FAIL"] });
    const error = (await assert.rejects(sending, AtCommandError, /SEND FAIL/)) as AtCommandError;
    assert.equal(error.final, "SEND FAIL");
    assert.deepEqual(modem.payloads, [Uint8Array.of(1, 2)]);
  });

  it("treats CONNECT as an info line when the command does not declare it", async () => {
    const { at } = rig((_c, m) => m.reply("\r\nCONNECT\r\n\r\nOK\r\n"));
    const response = await at.send("AT+X");
    assert.deepEqual(response.lines, ["CONNECT"]);
  });

  it("ignores a final result code that arrives with no command pending", async () => {
    const { at, modem, platform } = rig();
    modem.reply("\r\nOK\r\n\r\nERROR\r\n");
    await platform.settle();
    modem.script = (_c, m) => m.reply("\r\n+CSQ: 17,99\r\n\r\nOK\r\n");
    const response = await at.send("AT+CSQ", { prefix: "+CSQ:" });
    assert.deepEqual(response.lines, ["+CSQ: 17,99"]);
  });

  it("refuses commands it cannot send", async () => {
    const { at, modem, platform } = rig();
    await assert.rejects(at.send(""), AtInvalidCommandError);
    await assert.rejects(at.send("AT\rAT"), AtInvalidCommandError, /CR\/LF/);
    await assert.rejects(at.send("AT+COPS=\"é\""), AtInvalidCommandError);
    await assert.rejects(at.send("AT+X", { payload: { data: Uint8Array.of(1), prompt: "  " } }), AtInvalidCommandError, /prompt/);
    await assert.rejects(at.send("AT+X", { timeoutMs: -1 }), AtInvalidCommandError);
    await platform.settle();
    assert.equal(modem.received, "", "nothing was written");
  });

  it("logs each TX and RX line at debug level with tag \"at\"", async () => {
    const { at, platform } = rig((_c, m) => m.reply("\r\n+CSQ: 17,99\r\n\r\nOK\r\n"));
    await at.send("AT+CSQ", { prefix: "+CSQ:" });
    const messages = platform.logs.filter((l) => l.tag === "at" && l.level === "debug").map((l) => l.message);
    assert.ok(messages.includes("TX AT+CSQ"), JSON.stringify(messages));
    assert.ok(messages.includes("RX +CSQ: 17,99"), JSON.stringify(messages));
    assert.ok(messages.includes("RX OK"), JSON.stringify(messages));
  });

  it("dispatches bytes that were waiting before the engine was created", async () => {
    const platform = new ManualPlatform();
    const [engineEnd, modemEnd] = memoryLinkPair();
    const modem = new FakeModem(modemEnd);
    modem.reply("\r\nRDY\r\n");
    await platform.settle();
    const at = new AtEngine(engineEnd, platform);
    const seen: string[] = [];
    at.onUrc("RDY", (line) => seen.push(line));
    await platform.settle();
    assert.deepEqual(seen, ["RDY"]);
  });
});
