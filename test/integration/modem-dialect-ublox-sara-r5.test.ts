// ublox-sara-r5: the shared driver-vs-virtual-modem suite, and the virtual modem's wire format
// checked byte for byte against modems.md §2.3 (expected bytes written from the doc).
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { type RunningVirtualModem, startVirtualModem } from "../../hosts/sim/modem/index.js";
import { dialectSuite, exchange as exchangeWith, peerServer } from "./modem-dialect-harness.test.js";
import { RawModemClient } from "./modem-test-client.js";

dialectSuite({ dialect: "ublox-sara-r5", manufacturer: "u-blox", readCommand: "+USORD", activatesData: true });

describe("ublox-sara-r5 virtual modem: wire format of modems.md §2.3, byte for byte", function () {
  this.timeout(20000);
  let running: RunningVirtualModem;
  let client: RawModemClient;
  let peer: Awaited<ReturnType<typeof peerServer>>;
  const exchange = (command: string, answer: string): Promise<void> => exchangeWith(client, command, answer);

  beforeEach(async function () {
    running = await startVirtualModem({ dialect: "ublox-sara-r5", registrationDelayMs: 20 });
    client = await RawModemClient.connect(running.port!);
    peer = await peerServer();
    await client.command("ATE0");
    await client.command("AT+CMEE=1");
    await new Promise((resolve) => setTimeout(resolve, 50)); // registered
  });

  afterEach(async function () {
    client.close();
    await peer.close();
    await running.close();
  });

  async function activate(): Promise<void> {
    await exchange("AT+UPSD=0,100,1", "\r\nOK\r\n");
    await exchange("AT+UPSD=0,0,2", "\r\nOK\r\n");
    await exchange("AT+UPSDA=0,3", "\r\nOK\r\n");
    await exchange("AT+UPSND=0,8", "\r\n+UPSND: 0,8,1\r\n\r\nOK\r\n");
  }

  async function open(): Promise<Socket> {
    await exchange("AT+USOCR=6", "\r\n+USOCR: 0\r\n\r\nOK\r\n");
    await exchange(`AT+USOCO=0,"127.0.0.1",${peer.port}`, "\r\nOK\r\n");
    return peer.accepted;
  }

  it("AT+USOCR=6 answers +USOCR: <s>; AT+USOCO=...,1 answers OK, then +UUSOCO: <s>,0", async function () {
    await activate();
    await exchange("AT+USOCR=6", "\r\n+USOCR: 0\r\n\r\nOK\r\n");
    await exchange(`AT+USOCO=0,"127.0.0.1",${peer.port},1`, "\r\nOK\r\n\r\n+UUSOCO: 0,0\r\n");
    await peer.accepted;
  });

  it("AT+USOWR prompts '@', wants a 50 ms pause before the data, answers +USOWR: <s>,<len> and OK", async function () {
    await activate();
    const socket = await open();
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    client.send("AT+USOWR=0,4\r");
    assert.equal(await client.readUntil("@"), "@");
    await new Promise((resolve) => setTimeout(resolve, 60));
    client.send(Uint8Array.of(0x22, 0x0d, 0x0a, 0x40));
    assert.equal(await client.readFinal(), "\r\n+USOWR: 0,4\r\n\r\nOK\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual([...Buffer.concat(received)], [0x22, 0x0d, 0x0a, 0x40]);
    // Without the pause the module loses the data.
    client.send("AT+USOWR=0,4\r");
    await client.readUntil("@");
    client.send(Uint8Array.of(1, 2, 3, 4));
    assert.equal(await client.readFinal(), "\r\n+CME ERROR: 3\r\n");
    await exchange("AT+USOWR=0,1025", "\r\n+CME ERROR: 50\r\n");
  });

  it("announces data with +UUSORD: <s>,<len>; AT+USORD answers +USORD: <s>,<n>,\"<data>\"", async function () {
    await activate();
    const socket = await open();
    socket.write(Buffer.from('"\r\nOK\r\n'));
    assert.equal(await client.readUntil("\r\n+UUSORD: 0,7\r\n"), "\r\n+UUSORD: 0,7\r\n");
    await exchange("AT+USORD=0,0", "\r\n+USORD: 0,7\r\n\r\nOK\r\n");
    await exchange("AT+USORD=0,3", '\r\n+USORD: 0,3,""\r\n"\r\n\r\nOK\r\n\r\n+UUSORD: 0,4\r\n');
    await exchange("AT+USORD=0,100", '\r\n+USORD: 0,4,"OK\r\n"\r\n\r\nOK\r\n');
    await exchange("AT+USORD=0,100", '\r\n+USORD: 0,0,""\r\n\r\nOK\r\n');
  });

  it("announces the peer close with +UUSOCL: <s> once the data is read; reading it then is 'operation not allowed'", async function () {
    await activate();
    const socket = await open();
    socket.end(Buffer.from("end"));
    assert.equal(await client.readUntil("\r\n+UUSORD: 0,3\r\n"), "\r\n+UUSORD: 0,3\r\n");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(client.pending(), "", "no +UUSOCL before the data is read");
    await exchange("AT+USORD=0,10", '\r\n+USORD: 0,3,"end"\r\n\r\nOK\r\n\r\n+UUSOCL: 0\r\n');
    await exchange("AT+USORD=0,10", "\r\n+CME ERROR: 3\r\n");
  });

  it("closes with AT+USOCL=<s>,1: OK, then +UUSOCL: <s>", async function () {
    await activate();
    await open();
    await exchange("AT+USOCL=0,1", "\r\nOK\r\n\r\n+UUSOCL: 0\r\n");
  });

  it("hex mode (AT+UDCONF=1,1): AT+USOWR with the data as hex, no prompt; AT+USORD answers hex", async function () {
    await activate();
    const socket = await open();
    await exchange("AT+UDCONF=1,1", "\r\nOK\r\n");
    await exchange('AT+USOWR=0,2,"0D0A"', "\r\n+USOWR: 0,2\r\n\r\nOK\r\n");
    socket.write(Buffer.from([0x00, 0xff]));
    await client.readUntil("\r\n+UUSORD: 0,2\r\n");
    await exchange("AT+USORD=0,2", '\r\n+USORD: 0,2,"00FF"\r\n\r\nOK\r\n');
  });

  it("refuses non-loopback hosts through +UUSOCO errors; +UUPSDD: 0 reports a dropped context; CFUN=15 restarts", async function () {
    await activate();
    await exchange("AT+USOCR=6", "\r\n+USOCR: 0\r\n\r\nOK\r\n");
    await exchange('AT+USOCO=0,"192.0.2.1",443,1', "\r\nOK\r\n\r\n+UUSOCO: 0,111\r\n");
    running.modem.dialect.dropDataContext!(running.modem);
    assert.equal(await client.readUntil("\r\n+UUPSDD: 0\r\n"), "\r\n+UUPSDD: 0\r\n");
    await exchange("AT+CFUN=15", "\r\nOK\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await client.command("AT+CMEE?"), "AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n", "settings back to power-on (echo on, CMEE 0)");
  });
});
