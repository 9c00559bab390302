// simcom-sim7080: the shared driver-vs-virtual-modem suite, and the virtual modem's wire format
// checked byte for byte against modems.md §2.2 (expected bytes written from the doc).
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { dialectSuite, wireSession } from "./modem-dialect-harness.test.js";

dialectSuite({ dialect: "simcom-sim7080", manufacturer: "SIMCOM INCORPORATED", readCommand: "+CARECV", activatesData: true });

describe("simcom-sim7080 virtual modem: wire format of modems.md §2.2, byte for byte", function () {
  this.timeout(20000);
  const wire = wireSession("simcom-sim7080", {
    prepare: async (client) => {
      await client.command("ATE0");
      await new Promise((resolve) => setTimeout(resolve, 50)); // registered
    },
  });
  const exchange = wire.exchange;

  async function activate(): Promise<void> {
    await exchange('AT+CNCFG=0,1,"iot.test"', "\r\nOK\r\n");
    await exchange("AT+CNACT=0,1", "\r\nOK\r\n\r\n+APP PDP: 0,ACTIVE\r\n");
  }

  async function open(): Promise<Socket> {
    await exchange(`AT+CAOPEN=0,0,"TCP","127.0.0.1",${wire.peer.port}`, "\r\n+CAOPEN: 0,0\r\n\r\nOK\r\n");
    return wire.peer.accepted;
  }

  it("AT+CNACT=0,1 answers OK, then +APP PDP: 0,ACTIVE; AT+CNACT? lists index 0 active", async function () {
    await activate();
    assert.match(await wire.client.command("AT+CNACT?"), /^\r\n\+CNACT: 0,1,"[\d.]+"\r\n\r\n\+CNACT: 1,0,"0\.0\.0\.0"\r\n/);
  });

  it("AT+CAOPEN answers +CAOPEN: <cid>,<result> before OK: 0 connected, 20 DNS, 21 network not active, 27 connect failed", async function () {
    await exchange('AT+CAOPEN=1,0,"TCP","127.0.0.1",1', "\r\n+CAOPEN: 1,21\r\n\r\nOK\r\n");
    await activate();
    await exchange('AT+CAOPEN=1,0,"TCP","example.com",443', "\r\n+CAOPEN: 1,20\r\n\r\nOK\r\n");
    await exchange('AT+CAOPEN=1,0,"TCP","192.0.2.1",443', "\r\n+CAOPEN: 1,27\r\n\r\nOK\r\n");
    await open();
  });

  it("AT+CASEND prompts '> ', takes <len> bytes and answers OK", async function () {
    await activate();
    const socket = await open();
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    wire.client.send("AT+CASEND=0,6\r");
    assert.equal(await wire.client.readUntil("> "), "> ");
    wire.client.send(Uint8Array.of(0x0d, 0x0a, 0x4f, 0x4b, 0x0d, 0x0a));
    assert.equal(await wire.client.readFinal(), "\r\nOK\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual([...Buffer.concat(received)], [0x0d, 0x0a, 0x4f, 0x4b, 0x0d, 0x0a]);
    await exchange("AT+CASEND=0,1461", "\r\nERROR\r\n");
  });

  it("announces data with +CADATAIND: <cid>; AT+CARECV answers +CARECV: <len>,<data> CR LF OK", async function () {
    await activate();
    const socket = await open();
    socket.write(Buffer.from("a,b\r\nOK\r\n"));
    assert.equal(await wire.client.readUntil("\r\n+CADATAIND: 0\r\n"), "\r\n+CADATAIND: 0\r\n");
    await exchange("AT+CARECV=0,4", "\r\n+CARECV: 4,a,b\r\r\nOK\r\n");
    await exchange("AT+CARECV=0,100", "\r\n+CARECV: 5,\nOK\r\n\r\nOK\r\n");
    await exchange("AT+CARECV=0,100", "\r\n+CARECV: 0\r\n\r\nOK\r\n");
  });

  it("reports the peer closing with +CASTATE: <cid>,0; AT+CACLOSE answers OK", async function () {
    await activate();
    const socket = await open();
    socket.end();
    assert.equal(await wire.client.readUntil("\r\n+CASTATE: 0,0\r\n"), "\r\n+CASTATE: 0,0\r\n");
    await exchange("AT+CACLOSE=0", "\r\nOK\r\n");
  });

  it("restarts on AT+CREBOOT with its boot lines; AT+CCID answers the bare ICCID", async function () {
    assert.match(await wire.client.command("AT+CCID"), /^\r\n\d{19,20}\r\n\r\nOK\r\n$/);
    await exchange("AT+CREBOOT", "\r\nOK\r\n");
    assert.equal(await wire.client.readUntil("\r\nPB DONE\r\n"), "\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n\r\nPB DONE\r\n");
  });
});
