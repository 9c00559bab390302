// The simcom-sim7080 driver against a scripted modem answering with the bytes of modems.md §2.2.
import { ApnRejectedError, type ModemSocket, SocketLostError, SocketOpenError } from "../../../modules/modem/index.js";
import * as assert from "../../lib/portable/assert.js";
import { answerBasics, driverRig, ERROR, latin1Text, OK, run, type ScriptModem } from "./script-modem.js";

function answerSimcom(script: ScriptModem, outcome: "ACTIVE" | "DEACTIVE" = "ACTIVE"): void {
  answerBasics(script);
  let active = false;
  script
    .on(/^AT\+CNCFG=/, OK)
    .on("AT+CNACT?", () => script.send(`\r\n+CNACT: 0,${active ? 1 : 0},"${active ? "10.1.2.3" : "0.0.0.0"}"\r\n+CNACT: 1,0,"0.0.0.0"\r\n${OK}`))
    .on("AT+CNACT=0,1", () => {
      active = outcome === "ACTIVE";
      script.send(OK);
      script.send(`\r\n+APP PDP: 0,${outcome}\r\n`);
    })
    .on(/^AT\+CACLOSE=\d+$/, OK);
}

async function connected(options: { carecvForm?: "length" | "cid-length" } = {}): Promise<{ rig: ReturnType<typeof driverRig>; socket: ModemSocket }> {
  const rig = driverRig("simcom-sim7080", options);
  answerSimcom(rig.script);
  await run(rig.platform, rig.modem.init());
  await run(rig.platform, rig.modem.attach({ apn: "iot.example" }));
  rig.script.once('AT+CAOPEN=0,0,"TCP","10.0.0.1",8883', `\r\n+CAOPEN: 0,0\r\n${OK}`);
  const socket = await run(rig.platform, rig.modem.openTcp("10.0.0.1", 8883));
  rig.script.commands.length = 0;
  return { rig, socket };
}

describe("modem simcom-sim7080: commands and answers of modems.md §2.2", () => {
  it("activates with AT+CNCFG=0,1,\"<apn>\" and AT+CNACT=0,1, waiting for +APP PDP: 0,ACTIVE", async () => {
    const { platform, modem, script } = driverRig("simcom-sim7080");
    answerSimcom(script);
    await run(platform, modem.init());
    script.commands.length = 0;
    const result = await run(platform, modem.attach({ apn: "iot.example" }));
    assert.deepEqual(script.commands.slice(7), ['AT+CNCFG=0,1,"iot.example"', "AT+CNACT?", "AT+CNACT=0,1", "AT+CNACT?"]);
    assert.equal(result.ipAddress, "10.1.2.3");
  });

  it("reports a refused APN when the modem answers +APP PDP: 0,DEACTIVE", async () => {
    const { platform, modem, script } = driverRig("simcom-sim7080");
    answerSimcom(script, "DEACTIVE");
    await run(platform, modem.init());
    await assert.rejects(run(platform, modem.attach({ apn: "bad" })), ApnRejectedError, /DEACTIVE/);
  });

  it("opens with AT+CAOPEN=<cid>,0,\"TCP\",\"<host>\",<port> and maps results (20 DNS)", async () => {
    const { rig } = await connected();
    rig.script.once('AT+CAOPEN=1,0,"TCP","nowhere",80', `\r\n+CAOPEN: 1,20\r\n${OK}`);
    const error = await assert.rejects(run(rig.platform, rig.modem.openTcp("nowhere", 80)), SocketOpenError, /20/);
    assert.equal((error as SocketOpenError).reason, "dns");
    assert.deepEqual(rig.script.commands, ['AT+CAOPEN=1,0,"TCP","nowhere",80', "AT+CACLOSE=1"]);
  });

  it("sends with AT+CASEND=<cid>,<len>, '> ', the bytes, OK, in chunks of at most 1024", async () => {
    const { rig, socket } = await connected();
    rig.script.on(/^AT\+CASEND=0,\d+$/, (command, m) => {
      m.expectRaw(Number(command.split(",")[1]), () => m.send(OK));
      m.send("> ");
    });
    await run(rig.platform, socket.write(new Uint8Array(2100).fill(0x2b)));
    assert.deepEqual(rig.script.commands, ["AT+CASEND=0,1024", "AT+CASEND=0,1024", "AT+CASEND=0,52"]);
  });

  it("reads after +CADATAIND: <cid> with AT+CARECV, the data following the comma of +CARECV: <len>,", async () => {
    const { rig, socket } = await connected();
    rig.script.once("AT+CARECV=0,64", `\r\n+CARECV: 0\r\n${OK}`);
    const read = socket.read(64);
    await rig.platform.advance(100);
    rig.script.once("AT+CARECV=0,64", `\r\n+CARECV: 9,a,b\r\nOK\r\n\r\nOK\r\n`);
    rig.script.send("\r\n+CADATAIND: 0\r\n");
    assert.equal(latin1Text((await run(rig.platform, read, 1000))!), "a,b\r\nOK\r\n");
  });

  it("reads the manual's form +CARECV: <cid>,<len>,<data> when configured for it", async () => {
    const { rig, socket } = await connected({ carecvForm: "cid-length" });
    rig.script.once("AT+CARECV=0,64", `\r\n+CARECV: 0,5,hello\r\n${OK}`);
    assert.equal(latin1Text((await run(rig.platform, socket.read(64)))!), "hello");
    rig.script.once("AT+CARECV=0,64", `\r\n+CARECV: 0,0\r\n${OK}`);
    const next = socket.read(64);
    await rig.platform.advance(100);
    assert.equal(rig.script.commands.length, 2, "an empty read waits for the next notification");
    void next;
  });

  it("sees the peer close in +CASTATE: <cid>,0 and a dropped context in +APP PDP: 0,DEACTIVE", async () => {
    const { rig, socket } = await connected();
    const reasons: string[] = [];
    socket.onClose = (reason) => reasons.push(reason);
    rig.script.send("\r\n+CASTATE: 0,0\r\n");
    await rig.platform.settle();
    assert.deepEqual(reasons, ["peer"]);
    rig.script.once("AT+CARECV=0,8", `\r\n+CARECV: 0\r\n${OK}`);
    assert.equal(await run(rig.platform, socket.read(8)), null);
    rig.script.once('AT+CAOPEN=0,0,"TCP","10.0.0.1",1', `\r\n+CAOPEN: 0,0\r\n${OK}`);
    await run(rig.platform, socket.close());
    const other = await run(rig.platform, rig.modem.openTcp("10.0.0.1", 1));
    rig.script.send("\r\n+APP PDP: 0,DEACTIVE\r\n");
    await rig.platform.settle();
    await assert.rejects(other.read(1), SocketLostError);
  });

  it("refuses a send on ERROR and reads the bare ICCID of AT+CCID", async () => {
    const { rig, socket } = await connected();
    rig.script.once("AT+CASEND=0,1", ERROR);
    await assert.rejects(run(rig.platform, socket.write(Uint8Array.of(1))), Error, /CASEND/);
    rig.script
      .on("AT+CGMI", `\r\nSIMCOM INCORPORATED\r\n${OK}`)
      .on("AT+CGMM", `\r\nSIMCOM_SIM7080G\r\n${OK}`)
      .on("AT+CGMR", `\r\nRevision:1951B15SIM7080\r\n${OK}`)
      .on("AT+CGSN", `\r\n869951031234567\r\n${OK}`)
      .on("AT+CIMI", `\r\n001010123456789\r\n${OK}`)
      .on("AT+CCID", `\r\n89882390000012345678\r\n${OK}`);
    const identity = await run(rig.platform, rig.modem.identity());
    assert.equal(identity.iccid, "89882390000012345678");
    assert.equal(identity.firmware, "1951B15SIM7080");
  });
});
