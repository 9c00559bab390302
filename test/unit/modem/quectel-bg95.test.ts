// The quectel-bg95 driver against a scripted modem that answers with the bytes of modems.md §2.1
// (expected commands and answers are written from the doc, not from the driver).
import { ApnRejectedError, NoCoverageError, type Modem, type ModemEvent, SocketClosedError, SocketLostError, SocketOpenError, SocketSendError } from "../../../modules/modem/index.js";
import * as assert from "../../lib/portable/assert.js";
import { answerBasics, driverRig, ERROR, latin1, latin1Text, OK, run, type ScriptModem } from "./script-modem.js";

const TRICKY = '\r\nOK\r\n+QIURC: "recv",0\r\n';

function answerQuectel(script: ScriptModem): void {
  answerBasics(script);
  let active = false;
  script
    .on(/^AT\+QICSGP=/, OK)
    .on("AT+QIACT?", () => script.send(active ? `\r\n+QIACT: 1,1,1,"10.7.0.3"\r\n${OK}` : OK))
    .on("AT+QIACT=1", () => {
      active = true;
      script.send(OK);
    })
    .on(/^AT\+QICLOSE=\d+$/, OK);
}

async function attached(dialect = "quectel-bg95") {
  const rig = driverRig(dialect, { registrationPollMs: 100 });
  answerQuectel(rig.script);
  await run(rig.platform, rig.modem.init());
  await run(rig.platform, rig.modem.attach({ apn: "iot.example" }));
  rig.script.commands.length = 0;
  return rig;
}

/** Opens socket 0 to host:port with the doc's `OK` then `+QIOPEN: 0,0`. */
async function openSocket(rig: Awaited<ReturnType<typeof attached>>) {
  rig.script.once('AT+QIOPEN=1,0,"TCP","10.0.0.1",8883,0,0', () => {
    rig.script.send(OK);
    rig.script.send("\r\n+QIOPEN: 0,0\r\n");
  });
  const socket = await run(rig.platform, rig.modem.openTcp("10.0.0.1", 8883));
  rig.script.commands.length = 0;
  return socket;
}

function events(modem: Modem): ModemEvent[] {
  const seen: ModemEvent[] = [];
  modem.onEvent((e) => seen.push(e));
  return seen;
}

describe("modem quectel-bg95: commands and answers of modems.md §2.1", () => {
  it("initialises with AT, ATE0, AT+CMEE=1 and AT+CPIN?", async () => {
    const { platform, modem, script } = driverRig("quectel-bg95");
    answerBasics(script);
    await run(platform, modem.init());
    assert.deepEqual(script.commands, ["AT", "ATE0", "AT+CMEE=1", "AT+CPIN?"]);
  });

  it("attaches: CEREG, the context set with the radio off, CFUN=1, registration, then QICSGP and QIACT", async () => {
    const { platform, modem, script } = driverRig("quectel-bg95");
    answerQuectel(script);
    await run(platform, modem.init());
    script.commands.length = 0;
    const result = await run(platform, modem.attach({ apn: "iot.example" }));
    assert.deepEqual(script.commands, [
      "AT+CEREG=1",
      "AT+CGDCONT?",
      "AT+CFUN?",
      "AT+CFUN=4",
      'AT+CGDCONT=1,"IP","iot.example"',
      "AT+CFUN=1",
      "AT+CEREG?",
      'AT+QICSGP=1,1,"iot.example","","",0',
      "AT+QIACT?",
      "AT+QIACT=1",
      "AT+QIACT?",
    ]);
    assert.deepEqual(result, { registrationStatus: 1, ipAddress: "10.7.0.3" });
  });

  it("reports a refused APN when AT+QIACT answers ERROR", async () => {
    const { platform, modem, script } = driverRig("quectel-bg95");
    answerBasics(script);
    script.on(/^AT\+QICSGP=/, OK).on("AT+QIACT?", OK).on("AT+QIACT=1", ERROR);
    await run(platform, modem.init());
    await assert.rejects(run(platform, modem.attach({ apn: "bad.apn" })), ApnRejectedError, /bad\.apn/);
  });

  it("reports no coverage when registration stays at 'searching', and a denial at once", async () => {
    const { platform, modem, script } = driverRig("quectel-bg95", { registrationPollMs: 1000 });
    answerBasics(script);
    script.on("AT+CEREG?", `\r\n+CEREG: 1,2\r\n${OK}`);
    await run(platform, modem.init());
    const searching = modem.attach({ apn: "a", registrationTimeoutMs: 10000 });
    await assert.rejects(run(platform, searching), NoCoverageError, /searching/);
    const denied = driverRig("quectel-bg95");
    answerBasics(denied.script);
    denied.script.once("AT+CEREG?", `\r\n+CEREG: 1,3\r\n${OK}`);
    await run(denied.platform, denied.modem.init());
    await assert.rejects(run(denied.platform, denied.modem.attach({ apn: "a" })), NoCoverageError, /denied/);
  });

  it("registers on a +CEREG URC without waiting for the next poll", async () => {
    const { platform, modem, script } = driverRig("quectel-bg95", { registrationPollMs: 60000 });
    answerQuectel(script);
    script.once("AT+CEREG?", `\r\n+CEREG: 1,2\r\n${OK}`);
    await run(platform, modem.init());
    const attach = modem.attach({ apn: "a" });
    await platform.advance(100);
    script.send("\r\n+CEREG: 5\r\n");
    const result = await run(platform, attach, 1000);
    assert.equal(result.registrationStatus, 5);
  });

  it("opens a socket with AT+QIOPEN=1,<id>,\"TCP\",... and waits for +QIOPEN: <id>,0", async () => {
    const rig = await attached();
    const socket = await openSocket(rig);
    assert.equal(socket.id, 0);
    assert.equal(socket.state, "open");
  });

  it("maps +QIOPEN errors (565 DNS) and frees the id with AT+QICLOSE", async () => {
    const rig = await attached();
    rig.script.once(/^AT\+QIOPEN=/, () => {
      rig.script.send(OK);
      rig.script.send("\r\n+QIOPEN: 0,565\r\n");
    });
    const error = await assert.rejects(run(rig.platform, rig.modem.openTcp("no.such.host", 80)), SocketOpenError, /565/);
    assert.equal((error as SocketOpenError).reason, "dns");
    assert.equal(rig.script.commands[1], "AT+QICLOSE=0");
  });

  it("times out an open whose +QIOPEN never comes", async () => {
    const rig = await attached();
    rig.script.once(/^AT\+QIOPEN=/, OK);
    const error = await assert.rejects(run(rig.platform, rig.modem.openTcp("10.0.0.1", 1, { connectTimeoutMs: 30000 })), SocketOpenError);
    assert.equal((error as SocketOpenError).reason, "timeout");
  });

  it("sends in chunks of at most 1460 bytes: AT+QISEND=<id>,<len>, '> ', the bytes, SEND OK", async () => {
    const rig = await attached();
    const socket = await openSocket(rig);
    rig.script.on(/^AT\+QISEND=0,\d+$/, (command, m) => {
      const length = Number(command.split(",")[1]);
      m.expectRaw(length, () => m.send("\r\nSEND OK\r\n"));
      m.send("> ");
    });
    const data = new Uint8Array(3000);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    await run(rig.platform, socket.write(data));
    assert.deepEqual(rig.script.commands, ["AT+QISEND=0,1460", "AT+QISEND=0,1460", "AT+QISEND=0,80"]);
    assert.deepEqual(rig.script.payloads.map((p) => p.length), [1460, 1460, 80]);
    assert.deepEqual(rig.script.payloads[2], data.subarray(2920));
  });

  it("retries SEND FAIL (buffer full) and gives up with SocketSendError on ERROR", async () => {
    const rig = await attached();
    const socket = await openSocket(rig);
    let fails = 2;
    rig.script.on("AT+QISEND=0,3", (_c, m) => {
      m.expectRaw(3, () => m.send(fails-- > 0 ? "\r\nSEND FAIL\r\n" : "\r\nSEND OK\r\n"));
      m.send("> ");
    });
    await run(rig.platform, socket.write(latin1("abc")));
    assert.equal(rig.script.commands.length, 3);
    rig.script.once("AT+QISEND=0,2", ERROR);
    await assert.rejects(run(rig.platform, socket.write(latin1("xy"))), SocketSendError);
  });

  it("reads only after +QIURC: \"recv\" (pull mode), with AT+QIRD=<id>,<n> and its length-framed answer", async () => {
    const rig = await attached();
    const socket = await openSocket(rig);
    rig.script.once("AT+QIRD=0,100", `\r\n+QIRD: 0\r\n${OK}`); // a new socket is checked once
    const read = socket.read(100);
    await rig.platform.advance(500);
    assert.deepEqual(rig.script.commands, ["AT+QIRD=0,100"], "no more reads until the modem says data is waiting");
    rig.script.once("AT+QIRD=0,100", `\r\n+QIRD: ${TRICKY.length}\r\n${TRICKY}\r\n${OK}`);
    rig.script.send('\r\n+QIURC: "recv",0\r\n');
    assert.equal(latin1Text((await run(rig.platform, read, 1000))!), TRICKY);
    // BG95 may add the length to the URC: both forms mark the socket.
    rig.script.once("AT+QIRD=0,10", `\r\n+QIRD: 0\r\n${OK}`);
    rig.script.once("AT+QIRD=0,10", `\r\n+QIRD: 3\r\nxyz\r\n${OK}`);
    const next = socket.read(10);
    await rig.platform.advance(100);
    rig.script.send('\r\n+QIURC: "recv",0,3\r\n');
    assert.equal(latin1Text((await run(rig.platform, next, 1000))!), "xyz");
  });

  it("polls the modem now and then even without a URC (a lost URC does not stall the reader)", async () => {
    const rig = await attached();
    const socket = await openSocket(rig);
    rig.script.once(/^AT\+QIRD=0,/, `\r\n+QIRD: 0\r\n${OK}`);
    rig.script.once(/^AT\+QIRD=0,/, `\r\n+QIRD: 2\r\nhi\r\n${OK}`);
    const data = await run(rig.platform, socket.read(50), 5000);
    assert.equal(latin1Text(data!), "hi");
  });

  it("on +QIURC: \"closed\": reports the peer close, drains what is left, then ends the stream", async () => {
    const rig = await attached();
    const socket = await openSocket(rig);
    const reasons: string[] = [];
    socket.onClose = (reason) => reasons.push(reason);
    rig.script.send('\r\n+QIURC: "closed",0\r\n');
    await rig.platform.settle();
    assert.deepEqual(reasons, ["peer"]);
    assert.equal(socket.state, "peer-closed");
    rig.script.once("AT+QIRD=0,64", `\r\n+QIRD: 4\r\nlast\r\n${OK}`);
    rig.script.once("AT+QIRD=0,64", `\r\n+QIRD: 0\r\n${OK}`);
    assert.equal(latin1Text((await run(rig.platform, socket.read(64)))!), "last");
    assert.equal(await run(rig.platform, socket.read(64)), null);
    await assert.rejects(socket.write(latin1("x")), SocketClosedError);
    await run(rig.platform, socket.close());
    assert.equal(rig.script.commands.at(-1), "AT+QICLOSE=0");
  });

  it("loses its sockets on +QIURC: \"pdpdeact\",1 and reports the data context loss", async () => {
    const rig = await attached();
    const seen = events(rig.modem);
    const socket = await openSocket(rig);
    const pending = socket.read(10);
    rig.script.once(/^AT\+QIRD=/, () => undefined); // let the read wait on the URC side
    rig.script.send('\r\n+QIURC: "pdpdeact",1\r\n');
    await assert.rejects(run(rig.platform, pending, 20000), SocketLostError, /network/);
    assert.equal(socket.closeReason, "network");
    assert.ok(seen.some((e) => e.type === "data-context-lost"));
  });

  it("treats an unasked RDY as a modem reset: sockets lost, then re-initialised", async () => {
    const rig = await attached();
    const seen = events(rig.modem);
    const socket = await openSocket(rig);
    rig.script.send("\r\nRDY\r\n");
    await rig.platform.settle();
    assert.equal(socket.closeReason, "lost");
    await assert.rejects(socket.read(1), SocketLostError, /reset/);
    rig.script.send("\r\nAPP RDY\r\n");
    await rig.platform.advance(3000);
    assert.ok(seen.some((e) => e.type === "reset"));
    assert.ok(seen.some((e) => e.type === "recovered"), "recovered on its own");
    for (const command of ["AT", "ATE0", "AT+CMEE=1", "AT+CPIN?"]) assert.ok(rig.script.commands.includes(command), command);
  });

  it("a read waiting on AT+QIRD when the modem reboots fails at once with the socket lost, not at the command's timeout", async () => {
    const rig = await attached();
    const socket = await openSocket(rig);
    rig.script.once(/^AT\+QIRD=/, () => undefined); // the modem reboots before it answers
    const pending = socket.read(10);
    await rig.platform.advance(100);
    assert.deepEqual(rig.script.commands, ["AT+QIRD=0,10"]);
    rig.script.send("\r\nRDY\r\n");
    const rebootedAt = rig.platform.now();
    let failedAt = Number.NaN;
    pending.catch(() => (failedAt = rig.platform.now()));
    await assert.rejects(run(rig.platform, pending, 12000), SocketLostError, /reset/);
    assert.ok(failedAt - rebootedAt < 1000, `the read failed ${failedAt - rebootedAt} ms after the reboot (AT+QIRD's timeout is 10 s)`);
  });

  it("reads the ICCID with AT+QCCID", async () => {
    const { platform, modem, script } = driverRig("quectel-bg95");
    answerBasics(script);
    script
      .on("AT+CGMI", `\r\nQuectel\r\n${OK}`)
      .on("AT+CGMM", `\r\nBG95-M3\r\n${OK}`)
      .on("AT+CGMR", `\r\nBG95M3LAR02A03\r\n${OK}`)
      .on("AT+CGSN", `\r\n866425031234567\r\n${OK}`)
      .on("AT+CIMI", `\r\n001010123456789\r\n${OK}`)
      .on("AT+QCCID", `\r\n+QCCID: 8944100000000012345F\r\n${OK}`);
    await run(platform, modem.init());
    const identity = await run(platform, modem.identity());
    assert.deepEqual(identity, { manufacturer: "Quectel", model: "BG95-M3", firmware: "BG95M3LAR02A03", imei: "866425031234567", iccid: "8944100000000012345F", imsi: "001010123456789" });
  });

  it("tells modules/sim to try AT+CSIM first, then AT+CCHO/AT+CGLA", () => {
    const { modem } = driverRig("quectel-bg95");
    assert.deepEqual(modem.simAccess, { csim: true, cgla: true, order: ["csim", "cgla"] });
    assert.equal(modem.maxSendChunk, 1460);
    assert.equal(modem.maxReadChunk, 1500);
  });
});
