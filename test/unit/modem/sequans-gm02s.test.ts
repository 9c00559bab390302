// The sequans-gm02s driver against a scripted modem answering with the bytes of modems.md §2.5.
import { NoCoverageError, type ModemSocket, SocketLostError, SocketOpenError } from "../../../modules/modem/index.js";
import * as assert from "../../lib/portable/assert.js";
import { answerBasics, driverRig, latin1Text, OK, run, type ScriptModem } from "./script-modem.js";

function answerSequans(script: ScriptModem): void {
  answerBasics(script);
  script.on(/^AT\+SQNSCFG=/, OK).on(/^AT\+SQNSCFGEXT=/, OK).on(/^AT\+SQNSD=/, OK).on(/^AT\+SQNSH=\d$/, OK);
}

async function connected(): Promise<{ rig: ReturnType<typeof driverRig>; socket: ModemSocket }> {
  const rig = driverRig("sequans-gm02s");
  answerSequans(rig.script);
  await run(rig.platform, rig.modem.init());
  await run(rig.platform, rig.modem.attach({ apn: "iot.example" }));
  rig.script.commands.length = 0;
  const socket = await run(rig.platform, rig.modem.openTcp("10.0.0.1", 8883, { connectTimeoutMs: 60000 }));
  return { rig, socket };
}

describe("modem sequans-gm02s: commands and answers of modems.md §2.5", () => {
  it("attaches with the APN in the default bearer (no activation command)", async () => {
    const { platform, modem, script } = driverRig("sequans-gm02s");
    answerSequans(script);
    await run(platform, modem.init());
    script.commands.length = 0;
    await run(platform, modem.attach({ apn: "iot.example" }));
    assert.deepEqual(script.commands, ["AT+CEREG=1", "AT+CGDCONT?", "AT+CFUN?", "AT+CFUN=4", 'AT+CGDCONT=1,"IP","iot.example"', "AT+CFUN=1", "AT+CEREG?"]);
  });

  it("names the APN when the network denies the attach", async () => {
    const { platform, modem, script } = driverRig("sequans-gm02s");
    answerSequans(script);
    script.on("AT+CEREG?", `\r\n+CEREG: 1,3\r\n${OK}`);
    await run(platform, modem.init());
    await assert.rejects(run(platform, modem.attach({ apn: "bad.apn" })), NoCoverageError, /bad\.apn/);
  });

  it("configures, then dials in command mode: SQNSCFG, SQNSCFGEXT (ring with length, raw), SQNSD", async () => {
    const { rig, socket } = await connected();
    assert.equal(socket.id, 1);
    assert.deepEqual(rig.script.commands, ["AT+SQNSCFG=1,1,0,0,600,50", "AT+SQNSCFGEXT=1,1,0,0,0,0", 'AT+SQNSD=1,0,8883,"10.0.0.1",0,0,1,0']);
    rig.script.once(/^AT\+SQNSD=2,/, "\r\nNO CARRIER\r\n");
    await assert.rejects(run(rig.platform, rig.modem.openTcp("10.0.0.1", 1)), SocketOpenError, /NO CARRIER/);
  });

  it("sends after the CR LF '> ' prompt with AT+SQNSSENDEXT=<id>,<len>, at most 1500 per command", async () => {
    const { rig, socket } = await connected();
    rig.script.commands.length = 0;
    rig.script.on(/^AT\+SQNSSENDEXT=1,\d+$/, (command, m) => {
      m.expectRaw(Number(command.split(",")[1]), () => m.send(OK));
      m.send("\r\n> ");
    });
    await run(rig.platform, socket.write(new Uint8Array(3100)));
    assert.deepEqual(rig.script.commands, ["AT+SQNSSENDEXT=1,1500", "AT+SQNSSENDEXT=1,1500", "AT+SQNSSENDEXT=1,100"]);
  });

  it("reads after +SQNSRING: <id>,<len> with AT+SQNSRECV; +SQNSRECV: <id>,<n> CR LF <n bytes> CR LF OK", async () => {
    const { rig, socket } = await connected();
    rig.script.once("AT+SQNSRECV=1,100", `\r\n+SQNSRECV: 1,0\r\n${OK}`);
    const read = socket.read(100);
    await rig.platform.advance(100);
    rig.script.once("AT+SQNSRECV=1,100", `\r\n+SQNSRECV: 1,8\r\n\r\nOK\r\n> \r\nOK\r\n`);
    rig.script.send("\r\n+SQNSRING: 1,8\r\n");
    assert.equal(latin1Text((await run(rig.platform, read, 1000))!), "\r\nOK\r\n> ");
  });

  it("takes +SQNSH: <id> as the peer closing, and +SYSSTART as a reboot", async () => {
    const { rig, socket } = await connected();
    const reasons: string[] = [];
    socket.onClose = (reason) => reasons.push(reason);
    rig.script.send("\r\n+SQNSH: 1\r\n");
    await rig.platform.settle();
    rig.script.once("AT+SQNSRECV=1,10", "\r\n+CME ERROR: 3\r\n");
    assert.equal(await run(rig.platform, socket.read(10)), null);
    assert.deepEqual(reasons, ["peer"]);
    const other = await run(rig.platform, rig.modem.openTcp("10.0.0.1", 2));
    rig.script.send("\r\n+SYSSTART\r\n");
    await rig.platform.settle();
    await assert.rejects(other.read(1), SocketLostError);
  });

  it("reads the ICCID from +SQNCCID: \"<iccid>\",\"<eid>\"", async () => {
    const { platform, modem, script } = driverRig("sequans-gm02s");
    answerBasics(script);
    script
      .on("AT+CGMI", `\r\nSequans Communications\r\n${OK}`)
      .on("AT+CGMM", `\r\nGM02S\r\n${OK}`)
      .on("AT+CGMR", `\r\nUE8.0.5.5\r\n${OK}`)
      .on("AT+CGSN", `\r\n+CGSN: "352656100123456"\r\n${OK}`)
      .on("AT+CIMI", `\r\n001010123456789\r\n${OK}`)
      .on("AT+SQNCCID", `\r\n+SQNCCID: "89882280666012345678",""\r\n${OK}`);
    await run(platform, modem.init());
    const identity = await run(platform, modem.identity());
    assert.equal(identity.iccid, "89882280666012345678");
    assert.equal(identity.imei, "352656100123456");
  });
});
