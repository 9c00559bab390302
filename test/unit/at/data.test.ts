import { lengthFromField } from "../../../modules/at/engine.js";
import { AtCommandError, AtFramingError } from "../../../modules/at/errors.js";
import * as assert from "../../lib/portable/assert.js";
import { latin1, rig, watch } from "./fake-modem.js";

/** Payload bytes that a line parser would misread: CR LF, an OK, a URC, NUL and 0xFF. */
const TRICKY = latin1('ab\r\nOK\r\n+QIURC: "closed",0\r\n\x00\xff,\r\n');

describe("AT engine: data prompts", () => {
  it("writes the payload only after the '>' prompt (Quectel), then waits for SEND OK", async () => {
    const { at, modem, platform } = rig((command, m) => {
      if (command === "AT+QISEND=0,5") m.expectRaw(5, () => m.reply("\r\nSEND OK\r\n"));
    });
    const data = latin1("hello");
    const outcome = watch(at.send("AT+QISEND=0,5", { payload: { data, prompt: "> " }, finalResults: ["SEND OK", "SEND FAIL"] }));
    await platform.settle();
    assert.equal(modem.received, "AT+QISEND=0,5\r", "no data before the prompt");
    modem.reply("> ");
    await platform.settle();
    assert.deepEqual(modem.payloads, [data]);
    assert.equal(outcome.value?.final, "SEND OK");
  });

  it("accepts the Sequans form CR LF '> ' and a URC right after the prompt", async () => {
    const { at, modem } = rig((command, m) => {
      if (command === "AT+SQNSSENDEXT=1,3") {
        m.expectRaw(3, () => m.reply("\r\nOK\r\n"));
        m.reply('\r\n> \r\n+SQNSRING: 1,20\r\n');
      }
    });
    const rings: string[] = [];
    at.onUrc("+SQNSRING:", (line) => rings.push(line));
    const response = await at.send("AT+SQNSSENDEXT=1,3", { payload: { data: Uint8Array.of(1, 2, 3) } });
    assert.equal(response.final, "OK");
    assert.deepEqual(modem.payloads, [Uint8Array.of(1, 2, 3)]);
    assert.deepEqual(rings, ["+SQNSRING: 1,20"]);
    assert.deepEqual(response.lines, []);
  });

  it("waits the requested delay after the u-blox '@' prompt before writing", async () => {
    const { at, modem, platform } = rig((command, m) => {
      if (command === "AT+USOWR=0,5") {
        m.expectRaw(5, () => m.reply("\r\n+USOWR: 0,5\r\n\r\nOK\r\n"));
        m.reply("\r\n@");
      }
    });
    const outcome = watch(at.send("AT+USOWR=0,5", { prefix: "+USOWR:", payload: { data: latin1("12345"), prompt: "@", delayAfterPromptMs: 50 } }));
    await platform.settle();
    await platform.advance(49);
    assert.deepEqual(modem.payloads, [], "not before 50 ms");
    await platform.advance(1);
    assert.deepEqual(modem.payloads, [latin1("12345")]);
    await platform.settle();
    assert.deepEqual(outcome.value?.lines, ["+USOWR: 0,5"]);
  });

  it("rejects when the modem answers ERROR instead of a prompt, and writes no data", async () => {
    const { at, modem } = rig((_c, m) => m.reply("\r\nERROR\r\n"));
    await assert.rejects(at.send("AT+QISEND=0,5", { payload: { data: latin1("hello") } }), AtCommandError, /ERROR/);
    assert.equal(modem.received, "AT+QISEND=0,5\r");
  });

  it("rejects an OK that arrives before the prompt (the data was never sent)", async () => {
    const { at } = rig((_c, m) => m.reply("\r\nOK\r\n"));
    await assert.rejects(at.send("AT+CASEND=0,5", { payload: { data: latin1("hello") } }), AtCommandError, /before the data was sent/);
  });
});

describe("AT engine: length-framed reads", () => {
  const qird = (bytes: Uint8Array) => latin1(`\r\n+QIRD: ${bytes.length}\r\n`);

  it("reads Quectel '+QIRD: N' CR LF <N bytes> whatever the bytes contain", async () => {
    const { at } = rig((command, m) => {
      if (command === "AT+QIRD=0,100") {
        m.reply(qird(TRICKY));
        m.reply(TRICKY);
        m.reply("\r\n\r\nOK\r\n");
      }
    });
    const urcs: string[] = [];
    at.onUrc("+QIURC:", (line) => urcs.push(line));
    const response = await at.send("AT+QIRD=0,100", { prefix: "+QIRD:", dataHeader: { prefix: "+QIRD:", length: lengthFromField(0, 1) } });
    assert.deepEqual(response.data, [TRICKY]);
    assert.deepEqual(response.lines, [`+QIRD: ${TRICKY.length}`]);
    assert.deepEqual(urcs, [], "URC-looking payload bytes are data");
  });

  it("reads a length-framed response split at every byte boundary", async () => {
    const whole = new Uint8Array([...qird(TRICKY), ...TRICKY, ...latin1("\r\n\r\nOK\r\n")]);
    for (let split = 1; split < whole.length; split++) {
      const { at, modem, platform } = rig();
      const outcome = watch(at.send("AT+QIRD=0,100", { prefix: "+QIRD:", dataHeader: { prefix: "+QIRD:", length: lengthFromField(0, 1) } }));
      await platform.settle();
      modem.reply(whole.subarray(0, split));
      await platform.settle();
      modem.reply(whole.subarray(split));
      await platform.settle();
      assert.deepEqual(outcome.value?.data, [TRICKY], `split at ${split}`);
    }
  });

  it("reads '+QIRD: 0' as an empty payload and a query answer as a plain line", async () => {
    const { at } = rig((command, m) => {
      if (command === "AT+QIRD=0,100") m.reply("\r\n+QIRD: 0\r\n\r\nOK\r\n");
      if (command === "AT+QIRD=0,0") m.reply("\r\n+QIRD: 30,30,0\r\n\r\nOK\r\n");
    });
    const header = { prefix: "+QIRD:", length: lengthFromField(0, 1) };
    const empty = await at.send("AT+QIRD=0,100", { prefix: "+QIRD:", dataHeader: header });
    assert.deepEqual(empty.data, [new Uint8Array(0)]);
    const query = await at.send("AT+QIRD=0,0", { prefix: "+QIRD:", dataHeader: header });
    assert.deepEqual(query.data, []);
    assert.deepEqual(query.lines, ["+QIRD: 30,30,0"]);
  });

  it("reads Sequans '+SQNSRECV: <id>,<n>' and Nordic '#XRECV: <n>' headers with a caller's length function", async () => {
    const { at } = rig((command, m) => {
      if (command === "AT+SQNSRECV=1,1500") m.reply(new Uint8Array([...latin1(`\r\n+SQNSRECV: 1,${TRICKY.length}\r\n`), ...TRICKY, ...latin1("\r\nOK\r\n")]));
      if (command === "AT#XRECV=1") m.reply(new Uint8Array([...latin1(`\r\n#XRECV: ${TRICKY.length}\r\n`), ...TRICKY, ...latin1("\r\nOK\r\n")]));
    });
    // A hand-written length function, as a driver might supply.
    const secondField = (header: string): number | null => {
      const match = /^\+SQNSRECV: *\d+,(\d+)$/.exec(header);
      return match ? Number(match[1]) : null;
    };
    const sequans = await at.send("AT+SQNSRECV=1,1500", { prefix: "+SQNSRECV:", dataHeader: { prefix: "+SQNSRECV:", length: secondField } });
    assert.deepEqual(sequans.data, [TRICKY]);
    assert.deepEqual(sequans.lines, [`+SQNSRECV: 1,${TRICKY.length}`]);
    const nordic = await at.send("AT#XRECV=1", { prefix: "#XRECV:", dataHeader: { prefix: "#XRECV:", length: lengthFromField(0, 1) } });
    assert.deepEqual(nordic.data, [TRICKY]);
  });

  it("reads the SIMCom inline form '+CARECV: N,<N bytes>', at every split point", async () => {
    const whole = new Uint8Array([...latin1(`\r\n+CARECV: ${TRICKY.length},`), ...TRICKY, ...latin1("\r\nOK\r\n")]);
    for (let split = 1; split < whole.length; split++) {
      const { at, modem, platform } = rig();
      const urcs: string[] = [];
      at.onUrc("+QIURC:", (line) => urcs.push(line));
      const outcome = watch(at.send("AT+CARECV=0,100", { prefix: "+CARECV:", dataHeader: { prefix: "+CARECV:", length: lengthFromField(0, 1), inline: true } }));
      await platform.settle();
      modem.reply(whole.subarray(0, split));
      await platform.settle();
      modem.reply(whole.subarray(split));
      await platform.settle();
      assert.deepEqual(outcome.value?.data, [TRICKY], `split at ${split}`);
      assert.deepEqual(outcome.value?.lines, [`+CARECV: ${TRICKY.length}`], `split at ${split}`);
      assert.deepEqual(urcs, [], `split at ${split}`);
    }
  });

  it("reads the inline form with no data ('+CARECV: 0')", async () => {
    const { at } = rig((_c, m) => m.reply("\r\n+CARECV: 0\r\n\r\nOK\r\n"));
    const response = await at.send("AT+CARECV=0,100", { prefix: "+CARECV:", dataHeader: { prefix: "+CARECV:", length: lengthFromField(0, 1), inline: true } });
    assert.deepEqual(response.data, [new Uint8Array(0)]);
  });

  it("dispatches a URC that arrives before the data header", async () => {
    const { at } = rig((_c, m) => m.reply(new Uint8Array([...latin1('\r\n+QIURC: "recv",1\r\n'), ...qird(TRICKY), ...TRICKY, ...latin1("\r\n\r\nOK\r\n")])));
    const urcs: string[] = [];
    at.onUrc("+QIURC:", (line) => urcs.push(line));
    const response = await at.send("AT+QIRD=0,100", { prefix: "+QIRD:", dataHeader: { prefix: "+QIRD:", length: lengthFromField(0, 1) } });
    assert.deepEqual(response.data, [TRICKY]);
    assert.deepEqual(urcs, ['+QIURC: "recv",1']);
  });

  it("fails a header announcing more than maxDataLength, skips its bytes and stays in step", async () => {
    const big = new Uint8Array(100).fill(0x4f); // "OOOO..."
    const { at } = rig(
      (command, m) => {
        if (command === "AT+QIRD=0,1500") m.reply(new Uint8Array([...latin1("\r\n+QIRD: 100\r\n"), ...big, ...latin1("\r\nOK\r\n")]));
        if (command === "AT+CSQ") m.reply("\r\n+CSQ: 9,99\r\n\r\nOK\r\n");
      },
      { maxDataLength: 64 },
    );
    await assert.rejects(at.send("AT+QIRD=0,1500", { dataHeader: { prefix: "+QIRD:", length: lengthFromField(0, 1) } }), AtFramingError, /100 bytes/);
    const next = await at.send("AT+CSQ", { prefix: "+CSQ:" });
    assert.deepEqual(next.lines, ["+CSQ: 9,99"]);
  });

  it("fails a header whose length function returns a bad number or throws", async () => {
    const { at } = rig((_c, m) => m.reply("\r\n+QIRD: 5\r\n\r\nOK\r\n"));
    await assert.rejects(at.send("AT+QIRD=0,1", { dataHeader: { prefix: "+QIRD:", length: () => -1 } }), AtFramingError, /invalid length -1/);
    await assert.rejects(at.send("AT+QIRD=0,1", { dataHeader: { prefix: "+QIRD:", length: () => 1.5 } }), AtFramingError);
    await assert.rejects(
      at.send("AT+QIRD=0,1", {
        dataHeader: {
          prefix: "+QIRD:",
          length: () => {
            throw new Error("cannot parse");
          },
        },
      }),
      AtFramingError,
      /cannot parse/,
    );
  });

  it("lengthFromField reads the named field and refuses other shapes", () => {
    assert.equal(lengthFromField(0, 1)("+QIRD: 12"), 12);
    assert.equal(lengthFromField(0, 1)("+QIRD: 0"), 0);
    assert.equal(lengthFromField(0, 1)("+QIRD: 30,30,0"), null);
    assert.equal(lengthFromField(1, 2)("+SQNSRECV: 1,12"), 12);
    assert.equal(lengthFromField(0, 1)("+QIRD: -3"), null);
    assert.equal(lengthFromField(0, 1)("+QIRD: 1x"), null);
    assert.equal(lengthFromField(0, 1)("no colon"), null);
  });
});
