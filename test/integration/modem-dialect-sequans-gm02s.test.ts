// sequans-gm02s: the shared driver-vs-virtual-modem suite, and the virtual modem's wire format
// checked byte for byte against modems.md §2.5 (expected bytes written from the doc).
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { dialectSuite, wireSession } from "./modem-dialect-harness.test.js";

dialectSuite({ dialect: "sequans-gm02s", manufacturer: "Sequans Communications", readCommand: "+SQNSRECV", activatesData: false });

describe("sequans-gm02s virtual modem: wire format of modems.md §2.5, byte for byte", function () {
  this.timeout(20000);
  const wire = wireSession("sequans-gm02s", {
    prepare: async (client) => {
      await client.command("ATE0");
      await client.command("AT+CMEE=1");
      await new Promise((resolve) => setTimeout(resolve, 50)); // registered
    },
  });
  const exchange = wire.exchange;

  async function open(ringMode = 1): Promise<Socket> {
    await exchange("AT+SQNSCFG=1,1,0,0,600,50", "\r\nOK\r\n");
    await exchange(`AT+SQNSCFGEXT=1,${ringMode},0,0,0,0`, "\r\nOK\r\n");
    await exchange(`AT+SQNSD=1,0,${wire.peer.port},"127.0.0.1",0,0,1,0`, "\r\nOK\r\n");
    return wire.peer.accepted;
  }

  it("AT+SQNSSENDEXT prompts CR LF '> ', takes <len> bytes, answers OK", async function () {
    const socket = await open();
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    wire.client.send("AT+SQNSSENDEXT=1,4\r");
    assert.equal(await wire.client.readUntil("\r\n> "), "\r\n> ");
    wire.client.send(Uint8Array.of(0x3e, 0x20, 0x0d, 0x0a));
    assert.equal(await wire.client.readFinal(), "\r\nOK\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual([...Buffer.concat(received)], [0x3e, 0x20, 0x0d, 0x0a]);
    await exchange("AT+SQNSSENDEXT=1,1501", "\r\n+CME ERROR: 50\r\n");
  });

  it("rings +SQNSRING: <id>,<len>; AT+SQNSRECV answers +SQNSRECV: <id>,<n> CR LF <n bytes> CR LF OK", async function () {
    const socket = await open();
    socket.write(Buffer.from("\r\nOK\r\n"));
    assert.equal(await wire.client.readUntil("\r\n+SQNSRING: 1,6\r\n"), "\r\n+SQNSRING: 1,6\r\n");
    await exchange("AT+SQNSRECV=1,4", "\r\n+SQNSRECV: 1,4\r\n\r\nOK\r\nOK\r\n\r\n+SQNSRING: 1,2\r\n");
    await exchange("AT+SQNSRECV=1,100", "\r\n+SQNSRECV: 1,2\r\n\r\n\r\nOK\r\n");
    await exchange("AT+SQNSRECV=1,100", "\r\n+SQNSRECV: 1,0\r\n\r\nOK\r\n");
    await exchange("AT+SQNSI=1", "\r\n+SQNSI: 1,0,6,0,0\r\n\r\nOK\r\n");
  });

  it("rings without the length in ring mode 0", async function () {
    const socket = await open(0);
    socket.write(Buffer.from("x"));
    assert.equal(await wire.client.readUntil("\r\n+SQNSRING: 1\r\n"), "\r\n+SQNSRING: 1\r\n");
  });

  it("reports the peer closing with +SQNSH: <id> once the data is read; AT+SQNSH closes", async function () {
    const socket = await open();
    socket.end(Buffer.from("z"));
    await wire.client.readUntil("\r\n+SQNSRING: 1,1\r\n");
    await exchange("AT+SQNSRECV=1,10", "\r\n+SQNSRECV: 1,1\r\nz\r\nOK\r\n\r\n+SQNSH: 1\r\n");
    await open();
    await exchange("AT+SQNSH=1", "\r\nOK\r\n");
  });

  it("answers NO CARRIER when the connection fails; +SYSSTART after AT^RESET; AT+SQNCCID", async function () {
    await exchange('AT+SQNSD=2,0,443,"192.0.2.1",0,0,1,0', "\r\nNO CARRIER\r\n");
    assert.match(await wire.client.command("AT+SQNCCID"), /^\r\n\+SQNCCID: "\d{19,20}",""\r\n\r\nOK\r\n$/);
    await exchange("AT^RESET", "\r\nOK\r\n\r\n+SYSSTART\r\n");
  });

  it("answers AT+CSIM without quotes, after a repeat of the previous answer (Monarch)", async function () {
    await exchange('AT+CSIM=10,"0070000001"', "\r\n+CSIM: 6,019000\r\n\r\nOK\r\n");
    await exchange('AT+CSIM=10,"0070800100"', "\r\n+CSIM: 6,019000\r\n\r\n+CSIM: 4,9000\r\n\r\nOK\r\n");
  });
});
