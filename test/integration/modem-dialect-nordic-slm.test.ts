// nordic-slm: the shared driver-vs-virtual-modem suite, and the virtual modem's wire format checked
// byte for byte against modems.md §2.4 (expected bytes written from the doc and the SLM's formats).
import { dialectSuite } from "./modem-dialect-harness.test.js";

// AT+CESQ rsrq 24 / rsrp 41: −8 dB and −100 dBm (3GPP TS 36.133 tables: the band's lower bound).
dialectSuite({
  dialect: "nordic-slm",
  manufacturer: "Nordic Semiconductor ASA",
  readCommand: "#XRECV",
  activatesData: false,
  signal: { rssi: undefined, dbm: -100, ber: undefined, rsrpDbm: -100, rsrqDb: -8 },
});

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { wireSession } from "./modem-dialect-harness.test.js";

describe("nordic-slm virtual modem: the SLM's wire format, byte for byte", function () {
  this.timeout(20000);
  const wire = wireSession("nordic-slm", { lineEnding: "\r\n" });
  const exchange = wire.exchange;

  async function attach(): Promise<void> {
    await exchange("AT+CFUN=1", "\r\nOK\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50)); // registered
  }

  async function open(): Promise<Socket> {
    await exchange("AT#XSOCKET=1,1,0", "\r\n#XSOCKET: 0,1,6\r\n\r\nOK\r\n");
    await exchange(`AT#XCONNECT="127.0.0.1",${wire.peer.port}`, "\r\n#XCONNECT: 1\r\n\r\nOK\r\n");
    return wire.peer.accepted;
  }

  it("ends command lines only at CR LF, never echoes, refuses basic commands, keeps the UICC off in CFUN=0", async function () {
    wire.client.send("AT\r");
    assert.equal(await wire.client.collectFor(150), "", "a lone CR does not end the line");
    wire.client.send("\n");
    assert.equal(await wire.client.readFinal(), "\r\nOK\r\n");
    await exchange("ATE0", "\r\nERROR\r\n");
    await exchange("AT+CPIN?", "\r\nERROR\r\n");
    await exchange("AT+CMEE=1", "\r\nOK\r\n");
    await exchange("AT+CPIN?", "\r\n+CME ERROR: 13\r\n");
    await exchange("AT+CFUN=41", "\r\nOK\r\n");
    await exchange("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert.match(await wire.client.command("AT%XICCID", "\r\n"), /^\r\n%XICCID: \d{19,20}\r\n\r\nOK\r\n$/);
  });

  it("AT#XSEND enters data mode after OK; everything up to +++ goes out; #XDATAMODE: 0 ends it", async function () {
    await attach();
    const socket = await open();
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    await exchange("AT#XSEND", "\r\nOK\r\n");
    wire.client.send(Uint8Array.of(0x0d, 0x0a, 0x4f, 0x4b, 0x2b, 0x2b, 0x00, 0x2b, 0x2b, 0x2b));
    assert.equal(await wire.client.readUntil("\r\n#XDATAMODE: 0\r\n"), "\r\n#XDATAMODE: 0\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual([...Buffer.concat(received)], [0x0d, 0x0a, 0x4f, 0x4b, 0x2b, 0x2b, 0x00]);
    await exchange('AT#XSEND="text"', "\r\n#XSEND: 4\r\n\r\nOK\r\n");
  });

  it("AT#XPOLL reports POLLIN; AT#XRECV answers #XRECV: <n> CR LF <n bytes> CR LF OK; OK alone after the peer closed", async function () {
    await attach();
    const socket = await open();
    await exchange("AT#XPOLL=0,0", "\r\nOK\r\n");
    await exchange("AT#XRECV=0,64", "\r\nERROR\r\n"); // MSG_DONTWAIT and nothing there
    socket.write(Buffer.from("\r\nOK\r\n"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await exchange("AT#XPOLL=0,0", '\r\n#XPOLL: 0,"0x0001"\r\n\r\nOK\r\n');
    await exchange("AT#XRECV=1", "\r\n#XRECV: 6\r\n\r\nOK\r\n\r\nOK\r\n");
    socket.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await exchange("AT#XPOLL=0", '\r\n#XPOLL: 0,"0x0011"\r\n\r\nOK\r\n');
    await exchange("AT#XRECV=1", "\r\nOK\r\n");
    await exchange("AT#XSOCKET=0", '\r\n#XSOCKET: 0,"closed"\r\n\r\nOK\r\n');
  });

  it("selects the current socket with AT#XSOCKETSELECT; AT#XRESET prints Ready (unframed)", async function () {
    await attach();
    await exchange("AT#XSOCKET=1,1,0", "\r\n#XSOCKET: 0,1,6\r\n\r\nOK\r\n");
    await exchange("AT#XSOCKET=1,1,0", "\r\n#XSOCKET: 1,1,6\r\n\r\nOK\r\n");
    await exchange("AT#XSOCKETSELECT=0", "\r\n#XSOCKETSELECT: 0\r\n\r\nOK\r\n");
    await exchange("AT#XSOCKETSELECT=5", "\r\nERROR\r\n");
    await exchange("AT#XRESET", "\r\nOK\r\nReady\r\n");
    await exchange("AT+CESQ", "\r\n+CESQ: 99,99,255,255,255,255\r\n\r\nOK\r\n");
    await exchange("AT+CSQ", "\r\nERROR\r\n");
  });
});
