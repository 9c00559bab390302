// The nordic-slm driver against a scripted SLM answering with the bytes of modems.md §2.4 and the
// formats of the nRF91 Serial LTE Modem (#XSOCKET, #XCONNECT, #XSEND data mode, #XPOLL, #XRECV).
import { atEngineOptions, NoCoverageError, type ModemSocket, splitForDataMode } from "../../../modules/modem/index.js";
import * as assert from "../../lib/portable/assert.js";
import { driverRig, latin1, latin1Text, OK, run, type ScriptModem } from "./script-modem.js";

function answerSlm(script: ScriptModem): void {
  let fun = 0;
  let nextHandle = 0;
  script
    .on("AT", OK)
    .on("AT+CMEE=1", OK)
    .on("AT+CMEE?", `\r\n+CMEE: 1\r\n${OK}`)
    .on("AT+CFUN?", () => script.send(`\r\n+CFUN: ${fun}\r\n${OK}`))
    .on(/^AT\+CFUN=\d+$/, (command) => {
      fun = Number(command.slice(8));
      script.send(OK);
    })
    .on("AT+CPIN?", `\r\n+CPIN: READY\r\n${OK}`)
    .on("AT+CEREG=1", OK)
    .on("AT+CGDCONT?", `\r\n+CGDCONT: 0,"IP","","",0,0\r\n${OK}`)
    .on(/^AT\+CGDCONT=0,/, OK)
    .on("AT+CEREG?", `\r\n+CEREG: 1,1\r\n${OK}`)
    .on("AT#XSOCKET=1,1,0", () => script.send(`\r\n#XSOCKET: ${nextHandle++},1,6\r\n${OK}`))
    .on(/^AT#XCONNECT="[^"]+",\d+$/, `\r\n#XCONNECT: 1\r\n${OK}`)
    .on(/^AT#XSOCKETSELECT=\d+$/, (command) => script.send(`\r\n#XSOCKETSELECT: ${command.split("=")[1]}\r\n${OK}`))
    .on("AT#XSOCKET=0", `\r\n#XSOCKET: 0,"closed"\r\n${OK}`)
    .on("AT#XSEND", (_c, m) => {
      m.send(OK);
      m.expectRawUntil("+++", () => m.send("\r\n#XDATAMODE: 0\r\n"));
    })
    .on(/^AT#XSEND=".*"$/, (command) => script.send(`\r\n#XSEND: ${command.length - 11}\r\n${OK}`));
}

async function connected(): Promise<{ rig: ReturnType<typeof driverRig>; socket: ModemSocket }> {
  const rig = driverRig("nordic-slm", {}, atEngineOptions("nordic-slm"));
  answerSlm(rig.script);
  await run(rig.platform, rig.modem.init());
  await run(rig.platform, rig.modem.attach({ apn: "iot.example" }));
  const socket = await run(rig.platform, rig.modem.openTcp("10.0.0.1", 8883, { pollIntervalMs: 0 }));
  rig.script.commands.length = 0;
  return { rig, socket };
}

describe("modem nordic-slm: the Serial LTE Modem's commands (modems.md §2.4)", () => {
  it("never sends ATE (the SLM refuses it) and powers the UICC (CFUN=41) before the SIM check", async () => {
    const { platform, modem, script } = driverRig("nordic-slm", {}, atEngineOptions("nordic-slm"));
    answerSlm(script);
    await run(platform, modem.init());
    assert.deepEqual(script.commands, ["AT", "AT+CMEE=1", "AT+CFUN?", "AT+CFUN=41", "AT+CPIN?"]);
  });

  it("attaches on cid 0, the default bearer, and names the APN when the network denies the attach", async () => {
    const { platform, modem, script } = driverRig("nordic-slm", {}, atEngineOptions("nordic-slm"));
    answerSlm(script);
    await run(platform, modem.init());
    script.commands.length = 0;
    await run(platform, modem.attach({ apn: "iot.example" }));
    assert.ok(script.commands.includes('AT+CGDCONT=0,"IP","iot.example"'));
    script.on("AT+CEREG?", `\r\n+CEREG: 1,3\r\n${OK}`);
    script.on("AT+CGDCONT?", `\r\n+CGDCONT: 0,"IP","other","",0,0\r\n${OK}`);
    await assert.rejects(run(platform, modem.attach({ apn: "bad.apn" })), NoCoverageError, /bad\.apn/);
  });

  it("opens with AT#XSOCKET=1,1,0 and AT#XCONNECT=\"<host>\",<port>", async () => {
    const rig = driverRig("nordic-slm", {}, atEngineOptions("nordic-slm"));
    answerSlm(rig.script);
    await run(rig.platform, rig.modem.init());
    rig.script.commands.length = 0;
    const socket = await run(rig.platform, rig.modem.openTcp("cloud.example", 8883));
    assert.deepEqual(rig.script.commands, ["AT#XSOCKET=1,1,0", 'AT#XCONNECT="cloud.example",8883']);
    assert.equal(socket.id, 0);
  });

  it("sends through data mode: AT#XSEND, OK, the bytes, +++, #XDATAMODE: 0", async () => {
    const { rig, socket } = await connected();
    await run(rig.platform, socket.write(latin1("\r\nOK\r\n\x00\xff")));
    assert.deepEqual(rig.script.commands, ["AT#XSEND"]);
    assert.equal(latin1Text(rig.script.payloads[0]!), "\r\nOK\r\n\x00\xff");
  });

  it("never lets +++ into data mode, nor a trailing +: runs of + go as AT#XSEND=\"...\" text", async () => {
    const { rig, socket } = await connected();
    await run(rig.platform, socket.write(latin1("ab+++cd++e+")));
    assert.deepEqual(rig.script.commands, ["AT#XSEND", 'AT#XSEND="+++"', "AT#XSEND", 'AT#XSEND="+"']);
    assert.deepEqual(rig.script.payloads.map(latin1Text), ["ab", "cd++e"]);
  });

  it("splits data for data mode (unit)", () => {
    const pieces = splitForDataMode(latin1("x++y+++++z"), 4).map((p) => `${p.kind}:${latin1Text(p.bytes)}`);
    assert.deepEqual(pieces, ["data:x++y", "text:+++++", "data:z"]);
    const long = splitForDataMode(new Uint8Array(2500).fill(0x41), 1024).map((p) => p.bytes.length);
    assert.deepEqual(long, [1024, 1024, 452]);
  });

  it("reads by polling: AT#XPOLL=0,<h> then AT#XRECV=1; #XRECV: <n> CR LF <n bytes> CR LF OK", async () => {
    const { rig, socket } = await connected();
    rig.script.once("AT#XPOLL=0,0", `\r\n#XPOLL: 0,"0x0001"\r\n${OK}`);
    rig.script.once("AT#XRECV=1", `\r\n#XRECV: 6\r\n\r\nOK\r\n\r\n${OK}`);
    assert.equal(latin1Text((await run(rig.platform, socket.read(100)))!), "\r\nOK\r\n");
    assert.deepEqual(rig.script.commands, ["AT#XPOLL=0,0", "AT#XRECV=1"]);
  });

  it("keeps what #XRECV returned beyond the reader's request (it has no length argument)", async () => {
    const { rig, socket } = await connected();
    rig.script.once("AT#XPOLL=0,0", `\r\n#XPOLL: 0,"0x0001"\r\n${OK}`);
    rig.script.once("AT#XRECV=1", `\r\n#XRECV: 10\r\n0123456789\r\n${OK}`);
    assert.equal(latin1Text((await run(rig.platform, socket.read(4)))!), "0123");
    assert.equal(latin1Text((await run(rig.platform, socket.read(100)))!), "456789");
    assert.equal(rig.script.commands.length, 2, "the rest came from the driver's buffer");
  });

  it("takes OK without #XRECV (recv returned 0) after POLLIN|POLLHUP as the end of the stream", async () => {
    const { rig, socket } = await connected();
    rig.script.once("AT#XPOLL=0,0", `\r\n#XPOLL: 0,"0x0011"\r\n${OK}`);
    rig.script.once("AT#XRECV=1", OK);
    assert.equal(await run(rig.platform, socket.read(10)), null);
    assert.equal(socket.closeReason, "peer");
  });

  it("selects the socket (AT#XSOCKETSELECT) before acting on one that is not current", async () => {
    const { rig, socket } = await connected();
    const second = await run(rig.platform, rig.modem.openTcp("10.0.0.2", 1));
    assert.equal(second.id, 1);
    rig.script.commands.length = 0;
    await run(rig.platform, socket.write(latin1("a")));
    await run(rig.platform, second.write(latin1("b")));
    await run(rig.platform, second.close());
    assert.deepEqual(rig.script.commands, ["AT#XSOCKETSELECT=0", "AT#XSEND", "AT#XSOCKETSELECT=1", "AT#XSEND", "AT#XSOCKET=0"]);
  });

  it("reports signal quality from AT+CESQ and the ICCID from AT%XICCID", async () => {
    const { rig } = await connected();
    rig.script.on("AT+CESQ", `\r\n+CESQ: 99,99,255,255,31,62\r\n${OK}`);
    assert.deepEqual(await run(rig.platform, rig.modem.signalQuality()), { rssi: undefined, dbm: -79, ber: undefined, rsrpDbm: -79, rsrqDb: -4.5 });
    rig.script.on("AT%XICCID", `\r\n%XICCID: 8901234567012345678F\r\n${OK}`);
    rig.script
      .on("AT+CGMI", `\r\nNordic Semiconductor ASA\r\n${OK}`)
      .on("AT+CGMM", `\r\nnRF9160-SICA\r\n${OK}`)
      .on("AT+CGMR", `\r\nmfw_nrf9160_1.3.5\r\n${OK}`)
      .on("AT+CGSN", `\r\n352656100367872\r\n${OK}`)
      .on("AT+CIMI", `\r\n001010123456789\r\n${OK}`);
    assert.equal((await run(rig.platform, rig.modem.identity())).iccid, "8901234567012345678F");
  });
});
