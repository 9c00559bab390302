// ublox-sara-r5: the shared driver-vs-virtual-modem suite, and the virtual modem's wire format
// checked byte for byte against modems.md §2.3 (expected bytes written from the doc).
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { dialectSuite, wireSession } from "./modem-dialect-harness.test.js";

dialectSuite({ dialect: "ublox-sara-r5", manufacturer: "u-blox", readCommand: "+USORD", activatesData: true });

describe("ublox-sara-r5 virtual modem: wire format of modems.md §2.3, byte for byte", function () {
  this.timeout(20000);
  const wire = wireSession("ublox-sara-r5", {
    prepare: async (client) => {
      await client.command("ATE0");
      await client.command("AT+CMEE=1");
      await new Promise((resolve) => setTimeout(resolve, 50)); // registered
    },
  });
  const exchange = wire.exchange;

  async function activate(): Promise<void> {
    await exchange("AT+UPSD=0,100,1", "\r\nOK\r\n");
    await exchange("AT+UPSD=0,0,2", "\r\nOK\r\n");
    await exchange("AT+UPSDA=0,3", "\r\nOK\r\n");
    await exchange("AT+UPSND=0,8", "\r\n+UPSND: 0,8,1\r\n\r\nOK\r\n");
  }

  async function open(): Promise<Socket> {
    await exchange("AT+USOCR=6", "\r\n+USOCR: 0\r\n\r\nOK\r\n");
    await exchange(`AT+USOCO=0,"127.0.0.1",${wire.peer.port}`, "\r\nOK\r\n");
    return wire.peer.accepted;
  }

  it("AT+USOCR=6 answers +USOCR: <s>; AT+USOCO=...,1 answers OK, then +UUSOCO: <s>,0", async function () {
    await activate();
    await exchange("AT+USOCR=6", "\r\n+USOCR: 0\r\n\r\nOK\r\n");
    await exchange(`AT+USOCO=0,"127.0.0.1",${wire.peer.port},1`, "\r\nOK\r\n\r\n+UUSOCO: 0,0\r\n");
    await wire.peer.accepted;
  });

  it("AT+USOWR prompts '@', wants a 50 ms pause before the data, answers +USOWR: <s>,<len> and OK", async function () {
    await activate();
    const socket = await open();
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    wire.client.send("AT+USOWR=0,4\r");
    assert.equal(await wire.client.readUntil("@"), "@");
    await new Promise((resolve) => setTimeout(resolve, 60));
    wire.client.send(Uint8Array.of(0x22, 0x0d, 0x0a, 0x40));
    assert.equal(await wire.client.readFinal(), "\r\n+USOWR: 0,4\r\n\r\nOK\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual([...Buffer.concat(received)], [0x22, 0x0d, 0x0a, 0x40]);
    // Without the pause the module loses the data.
    wire.client.send("AT+USOWR=0,4\r");
    await wire.client.readUntil("@");
    wire.client.send(Uint8Array.of(1, 2, 3, 4));
    assert.equal(await wire.client.readFinal(), "\r\n+CME ERROR: 3\r\n");
    await exchange("AT+USOWR=0,1025", "\r\n+CME ERROR: 50\r\n");
  });

  it("announces data with +UUSORD: <s>,<len>; AT+USORD answers +USORD: <s>,<n>,\"<data>\"", async function () {
    await activate();
    const socket = await open();
    socket.write(Buffer.from('"\r\nOK\r\n'));
    assert.equal(await wire.client.readUntil("\r\n+UUSORD: 0,7\r\n"), "\r\n+UUSORD: 0,7\r\n");
    await exchange("AT+USORD=0,0", "\r\n+USORD: 0,7\r\n\r\nOK\r\n");
    await exchange("AT+USORD=0,3", '\r\n+USORD: 0,3,""\r\n"\r\n\r\nOK\r\n\r\n+UUSORD: 0,4\r\n');
    await exchange("AT+USORD=0,100", '\r\n+USORD: 0,4,"OK\r\n"\r\n\r\nOK\r\n');
    await exchange("AT+USORD=0,100", '\r\n+USORD: 0,0,""\r\n\r\nOK\r\n');
  });

  it("announces the peer close with +UUSOCL: <s> once the data is read; reading it then is 'operation not allowed'", async function () {
    await activate();
    const socket = await open();
    socket.end(Buffer.from("end"));
    assert.equal(await wire.client.readUntil("\r\n+UUSORD: 0,3\r\n"), "\r\n+UUSORD: 0,3\r\n");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(wire.client.pending(), "", "no +UUSOCL before the data is read");
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
    await wire.client.readUntil("\r\n+UUSORD: 0,2\r\n");
    await exchange("AT+USORD=0,2", '\r\n+USORD: 0,2,"00FF"\r\n\r\nOK\r\n');
  });

  it("refuses non-loopback hosts through +UUSOCO errors; +UUPSDD: 0 reports a dropped context; CFUN=15 restarts", async function () {
    await activate();
    await exchange("AT+USOCR=6", "\r\n+USOCR: 0\r\n\r\nOK\r\n");
    await exchange('AT+USOCO=0,"192.0.2.1",443,1', "\r\nOK\r\n\r\n+UUSOCO: 0,111\r\n");
    wire.running.modem.dialect.dropDataContext!(wire.running.modem);
    assert.equal(await wire.client.readUntil("\r\n+UUPSDD: 0\r\n"), "\r\n+UUPSDD: 0\r\n");
    await exchange("AT+CFUN=15", "\r\nOK\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await wire.client.command("AT+CMEE?"), "AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n", "settings back to power-on (echo on, CMEE 0)");
  });
});
