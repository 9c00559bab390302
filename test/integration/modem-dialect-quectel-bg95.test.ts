// quectel-bg95: the shared driver-vs-virtual-modem suite, and the virtual modem's wire format
// checked byte for byte against modems.md §2.1 (expected bytes written from the doc).
import { dialectSuite } from "./modem-dialect-harness.test.js";

dialectSuite({ dialect: "quectel-bg95", manufacturer: "Quectel", readCommand: "+QIRD", activatesData: true });

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { wireSession } from "./modem-dialect-harness.test.js";

describe("quectel-bg95 virtual modem: wire format of modems.md §2.1, byte for byte", function () {
  this.timeout(20000);
  const wire = wireSession("quectel-bg95", {
    prepare: async (client) => {
      await client.command("ATE0");
      assert.equal(await client.command("AT+CMEE=1"), "\r\nOK\r\n");
      await new Promise((resolve) => setTimeout(resolve, 50)); // registered
    },
  });

  async function activate(): Promise<void> {
    assert.equal(await wire.client.command('AT+QICSGP=1,1,"iot.test","","",0'), "\r\nOK\r\n");
    assert.equal(await wire.client.command("AT+QIACT=1"), "\r\nOK\r\n");
    assert.equal(await wire.client.command("AT+QIACT?"), '\r\n+QIACT: 1,1,1,"10.64.0.2"\r\n\r\nOK\r\n');
  }

  async function open(): Promise<Socket> {
    assert.equal(await wire.client.command(`AT+QIOPEN=1,0,"TCP","127.0.0.1",${wire.peer.port},0,0`), "\r\nOK\r\n");
    assert.equal(await wire.client.readUntil("\r\n+QIOPEN: 0,0\r\n"), "\r\n+QIOPEN: 0,0\r\n");
    return wire.peer.accepted;
  }

  const exchange = wire.exchange;

  it("AT+QIOPEN answers OK, then +QIOPEN: <id>,0 once connected; AT+QISTATE shows state 2", async function () {
    await activate();
    const socket = await open();
    await exchange("AT+QISTATE=1,0", `\r\n+QISTATE: 0,"TCP","127.0.0.1",${wire.peer.port},${socket.remotePort},2,1,0,0,"uart1"\r\n\r\nOK\r\n`);
  });

  it("AT+QISEND prompts with '> ' (no line ending), takes exactly <len> bytes, answers SEND OK", async function () {
    await activate();
    const socket = await open();
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    wire.client.send("AT+QISEND=0,8\r");
    assert.equal(await wire.client.readUntil("> "), "> ");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(wire.client.pending(), "", "nothing follows the prompt until the data is sent");
    wire.client.send(Uint8Array.of(0x0d, 0x0a, 0x4f, 0x4b, 0x0d, 0x0a, 0x00, 0xff));
    assert.equal(await wire.client.readUntil("\r\nSEND OK\r\n"), "\r\nSEND OK\r\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual([...Buffer.concat(received)], [0x0d, 0x0a, 0x4f, 0x4b, 0x0d, 0x0a, 0x00, 0xff]);
    assert.equal(await wire.client.command("AT+QISEND=0,1461"), "\r\nERROR\r\n", "more than 1460 bytes is refused");
    assert.equal(await wire.client.command("AT+QISEND=0,0"), "\r\n+QISEND: 8,8,0\r\n\r\nOK\r\n");
  });

  it('announces data once with +QIURC: "recv",<id> until AT+QIRD drains it; +QIRD: <n> CR LF <n bytes> CR LF CR LF OK', async function () {
    await activate();
    const socket = await open();
    socket.write(Buffer.from("\r\nOK\r\n"));
    assert.equal(await wire.client.readUntil('\r\n+QIURC: "recv",0\r\n'), '\r\n+QIURC: "recv",0\r\n');
    socket.write(Buffer.from("more"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(wire.client.pending(), "", "no second URC before the buffer was drained");
    await exchange("AT+QIRD=0,4", "\r\n+QIRD: 4\r\n\r\nOK\r\n\r\nOK\r\n");
    await exchange("AT+QIRD=0,1500", "\r\n+QIRD: 6\r\n\r\nmore\r\n\r\nOK\r\n");
    await exchange("AT+QIRD=0,1500", "\r\n+QIRD: 0\r\n\r\nOK\r\n");
    await exchange("AT+QIRD=0,0", "\r\n+QIRD: 10,10,0\r\n\r\nOK\r\n");
    await exchange("AT+QIRD=0,1501", "\r\nERROR\r\n");
    socket.write(Buffer.from("x"));
    assert.equal(await wire.client.readUntil('\r\n+QIURC: "recv",0\r\n'), '\r\n+QIURC: "recv",0\r\n', "announced again after the drain");
  });

  it('reports the peer closing with +QIURC: "closed",<id>; the data stays readable; AT+QICLOSE answers OK', async function () {
    await activate();
    const socket = await open();
    socket.end(Buffer.from("bye"));
    await wire.client.readUntil('\r\n+QIURC: "closed",0\r\n');
    await exchange("AT+QIRD=0,10", "\r\n+QIRD: 3\r\nbye\r\n\r\nOK\r\n");
    assert.equal(await wire.client.command("AT+QISEND=0,1"), "\r\nERROR\r\n", "no sending after the peer closed");
    assert.equal(await wire.client.command("AT+QICLOSE=0"), "\r\nOK\r\n");
  });

  it("refuses what the emulation does not reach: non-loopback hosts (565 DNS, 566 connect), no active context (561)", async function () {
    assert.equal(await wire.client.command('AT+QIOPEN=1,1,"TCP","127.0.0.1",1,0,0'), "\r\nOK\r\n");
    assert.equal(await wire.client.readUntil("\r\n+QIOPEN: 1,561\r\n"), "\r\n+QIOPEN: 1,561\r\n");
    await activate();
    assert.equal(await wire.client.command('AT+QIOPEN=1,2,"TCP","example.com",443,0,0'), "\r\nOK\r\n");
    assert.equal(await wire.client.readUntil("\r\n+QIOPEN: 2,565\r\n"), "\r\n+QIOPEN: 2,565\r\n");
    assert.equal(await wire.client.command('AT+QIOPEN=1,3,"TCP","192.0.2.1",443,0,0'), "\r\nOK\r\n");
    assert.equal(await wire.client.readUntil("\r\n+QIOPEN: 3,566\r\n"), "\r\n+QIOPEN: 3,566\r\n");
  });

  it('reports the network dropping the context with +QIURC: "pdpdeact",<ctx>', async function () {
    await activate();
    wire.running.modem.dialect.dropDataContext!(wire.running.modem);
    assert.equal(await wire.client.readUntil('\r\n+QIURC: "pdpdeact",1\r\n'), '\r\n+QIURC: "pdpdeact",1\r\n');
    assert.equal(await wire.client.command("AT+QIACT?"), "\r\nOK\r\n");
  });

  it("restarts on AT+CFUN=1,1: OK, then RDY and APP RDY; the ICCID answers AT+QCCID, not AT+CCID", async function () {
    assert.equal(await wire.client.command("AT+CFUN=1,1"), "\r\nOK\r\n");
    assert.equal(await wire.client.readUntil("\r\nAPP RDY\r\n"), "\r\nRDY\r\n\r\nAPP RDY\r\n");
    await wire.client.command("ATE0");
    assert.match(await wire.client.command("AT+QCCID"), /^\r\n\+QCCID: \d{19,20}\r\n\r\nOK\r\n$/);
    assert.equal(await wire.client.command("AT+CCID"), "\r\nERROR\r\n");
  });
});

describe("quectel-bg95 driver after an MCU reboot (the modem kept running)", function () {
  this.timeout(30000);

  it("opens a socket even though an earlier boot left socket id 0 open on the modem (+QIOPEN error 563)", async function () {
    const { rig, echoServer } = await import("./modem-dialect-harness.test.js");
    const { AtEngine } = await import("../../modules/at/index.js");
    const { atEngineOptions, createModem } = await import("../../modules/modem/index.js");
    const { connectTcpLink } = await import("../../hosts/node/links.js");
    const echo = await echoServer();
    const first = await rig("quectel-bg95");
    try {
      await first.modem.init();
      await first.modem.attach({ apn: "iot.test" });
      const stale = await first.modem.openTcp("127.0.0.1", echo.port);
      assert.equal(stale.id, 0);
      // The MCU reboots: its AT link goes away without closing the socket, and a new boot starts.
      first.modem.dispose();
      first.at.close();
      const link = await connectTcpLink("127.0.0.1", first.running.port!);
      const at = new AtEngine(link, first.platform, atEngineOptions("quectel-bg95"));
      const modem = createModem("quectel-bg95", at, first.platform);
      try {
        await modem.init();
        await modem.attach({ apn: "iot.test" });
        const socket = await modem.openTcp("127.0.0.1", echo.port);
        await socket.write(Uint8Array.of(1, 2, 3));
        assert.deepEqual(await socket.read(3), Uint8Array.of(1, 2, 3));
        await socket.close();
      } finally {
        modem.dispose();
        at.close();
      }
    } finally {
      await first.close();
      await echo.close();
    }
  });
});
