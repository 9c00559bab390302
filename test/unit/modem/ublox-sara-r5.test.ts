// The ublox-sara-r5 driver against a scripted modem answering with the bytes of modems.md §2.3.
import { ApnRejectedError, type ModemSocket, SocketLostError, SocketOpenError, SocketSendError } from "../../../modules/modem/index.js";
import * as assert from "../../lib/portable/assert.js";
import { answerBasics, driverRig, ERROR, latin1, latin1Text, OK, run, type ScriptModem } from "./script-modem.js";

function answerUblox(script: ScriptModem, activation: string = OK): void {
  answerBasics(script);
  let active = false;
  script
    .on("AT+UPSV=0", OK)
    .on(/^AT\+UPSD=0,/, OK)
    .on("AT+UPSND=0,8", () => script.send(`\r\n+UPSND: 0,8,${active ? 1 : 0}\r\n${OK}`))
    .on("AT+UPSND=0,0", `\r\n+UPSND: 0,0,"10.9.8.7"\r\n${OK}`)
    .on("AT+UPSDA=0,3", () => {
      active = activation === OK;
      script.send(activation);
    })
    .on("AT+USOCR=6", `\r\n+USOCR: 0\r\n${OK}`)
    .on(/^AT\+USOCO=0,"[^"]+",\d+,1$/, () => {
      script.send(OK);
      script.send("\r\n+UUSOCO: 0,0\r\n");
    })
    .on("AT+USOCL=0,1", () => {
      script.send(OK);
      script.send("\r\n+UUSOCL: 0\r\n");
    });
}

async function connected(): Promise<{ rig: ReturnType<typeof driverRig>; socket: ModemSocket }> {
  const rig = driverRig("ublox-sara-r5", { healthCheckMs: 0 });
  answerUblox(rig.script);
  await run(rig.platform, rig.modem.init());
  await run(rig.platform, rig.modem.attach({ apn: "iot.example" }));
  const socket = await run(rig.platform, rig.modem.openTcp("10.0.0.1", 8883));
  rig.script.commands.length = 0;
  return { rig, socket };
}

describe("modem ublox-sara-r5: commands and answers of modems.md §2.3", () => {
  it("turns UART power saving off at init and maps a PSD profile before AT+UPSDA=0,3", async () => {
    const { platform, modem, script } = driverRig("ublox-sara-r5", { healthCheckMs: 0 });
    answerUblox(script);
    await run(platform, modem.init());
    assert.deepEqual(script.commands, ["AT", "ATE0", "AT+CMEE=1", "AT+UPSV=0", "AT+CPIN?"]);
    script.commands.length = 0;
    const result = await run(platform, modem.attach({ apn: "iot.example" }));
    assert.deepEqual(script.commands.slice(7), ["AT+UPSD=0,100,1", "AT+UPSD=0,0,2", "AT+UPSND=0,8", "AT+UPSDA=0,3", "AT+UPSND=0,0"]);
    assert.equal(result.ipAddress, "10.9.8.7");
  });

  it("reports a refused APN when AT+UPSDA=0,3 fails", async () => {
    const { platform, modem, script } = driverRig("ublox-sara-r5", { healthCheckMs: 0 });
    answerUblox(script, "\r\n+CME ERROR: 148\r\n");
    await run(platform, modem.init());
    await assert.rejects(run(platform, modem.attach({ apn: "bad" })), ApnRejectedError, /UPSDA/);
  });

  it("opens with AT+USOCR=6, then AT+USOCO=<s>,\"<host>\",<port>,1 and +UUSOCO: <s>,0", async () => {
    const { rig, socket } = await connected();
    assert.equal(socket.id, 0);
    rig.script.once("AT+USOCR=6", `\r\n+USOCR: 1\r\n${OK}`).once('AT+USOCO=1,"10.0.0.2",1,1', () => {
      rig.script.send(OK);
      rig.script.send("\r\n+UUSOCO: 1,111\r\n");
    });
    rig.script.on("AT+USOCL=1", OK);
    const error = await assert.rejects(run(rig.platform, rig.modem.openTcp("10.0.0.2", 1)), SocketOpenError, /111/);
    assert.equal((error as SocketOpenError).reason, "refused");
    assert.deepEqual(rig.script.commands, ["AT+USOCR=6", 'AT+USOCO=1,"10.0.0.2",1,1', "AT+USOCL=1"]);
  });

  it("writes after the '@' prompt only once 50 ms have passed, and checks +USOWR: <s>,<len>", async () => {
    const { rig, socket } = await connected();
    let promptedAt = 0;
    let dataAt = -1;
    rig.script.on(/^AT\+USOWR=0,\d+$/, (command, m) => {
      const length = Number(command.split(",")[1]);
      m.expectRaw(length, () => {
        dataAt = rig.platform.now();
        m.send(`\r\n+USOWR: 0,${length}\r\n${OK}`);
      });
      promptedAt = rig.platform.now();
      m.send("@");
    });
    const write = socket.write(new Uint8Array(1500).fill(7));
    await rig.platform.advance(49);
    assert.equal(dataAt, -1, "no data within 49 ms of the prompt");
    await run(rig.platform, write, 5000, 1);
    assert.ok(dataAt - promptedAt >= 50);
    assert.deepEqual(rig.script.commands, ["AT+USOWR=0,1024", "AT+USOWR=0,476"]);
  });

  it("treats a plain OK without +USOWR as 'not sent'", async () => {
    const { rig, socket } = await connected();
    rig.script.once("AT+USOWR=0,2", (_c, m) => {
      m.expectRaw(2, () => m.send(OK));
      m.send("@");
    });
    await assert.rejects(run(rig.platform, socket.write(latin1("hi"))), SocketSendError, /not sent/);
  });

  it("reads after +UUSORD: <s>,<len> with AT+USORD; the data sits inside double quotes", async () => {
    const { rig, socket } = await connected();
    rig.script.once("AT+USORD=0,32", `\r\n+USORD: 0,0,""\r\n${OK}`);
    const read = socket.read(32);
    await rig.platform.advance(100);
    // The 9 data bytes a"CR LF OK CR LF" contain quotes and a final result code.
    rig.script.once("AT+USORD=0,32", `\r\n+USORD: 0,9,"a"\r\nOK\r\n""\r\n${OK}`);
    rig.script.send("\r\n+UUSORD: 0,9\r\n");
    assert.equal(latin1Text((await run(rig.platform, read, 1000))!), 'a"\r\nOK\r\n"');
  });

  it("after +UUSOCL (peer closed) reads what is left, ends on 'operation not allowed', and sends no close", async () => {
    const { rig, socket } = await connected();
    const reasons: string[] = [];
    socket.onClose = (reason) => reasons.push(reason);
    rig.script.send("\r\n+UUSOCL: 0\r\n");
    await rig.platform.settle();
    assert.deepEqual(reasons, ["peer"]);
    rig.script.once("AT+USORD=0,16", "\r\n+CME ERROR: 3\r\n");
    assert.equal(await run(rig.platform, socket.read(16)), null);
    await run(rig.platform, socket.close());
    assert.ok(!rig.script.commands.some((c) => c.startsWith("AT+USOCL")), "closing a closed socket locked modems up");
  });

  it("closes asynchronously with AT+USOCL=<s>,1 and waits for +UUSOCL: <s>", async () => {
    const { rig, socket } = await connected();
    await run(rig.platform, socket.close());
    assert.deepEqual(rig.script.commands, ["AT+USOCL=0,1"]);
  });

  it("notices a silent reboot by the settings it lost, and loses its sockets", async () => {
    const { rig, socket } = await connected();
    rig.script.on("AT+CMEE?", `\r\n+CMEE: 0\r\n${OK}`);
    rig.script.once("AT+USORD=0,8", ERROR);
    await assert.rejects(run(rig.platform, socket.read(8)), SocketLostError, /reset/);
    assert.equal(socket.closeReason, "lost");
  });

  it("loses its sockets on +UUPSDD: 0 (the network dropped the PSD context)", async () => {
    const { rig, socket } = await connected();
    rig.script.send("\r\n+UUPSDD: 0\r\n");
    await rig.platform.settle();
    assert.equal(socket.closeReason, "network");
  });
});
