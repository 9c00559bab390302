// The 27.007 base shared by every dialect: SIM readiness and PIN, network time, signal, SIM busy
// retries on the SIM port, and the recovery ladder's order, against a scripted modem.
import { AtCmeError } from "../../../modules/at/index.js";
import { GenericModem, ModemUnsupportedError, NetworkTimeUnavailableError, SimLockedError, SimNotReadyError } from "../../../modules/modem/index.js";
import * as assert from "../../lib/portable/assert.js";
import { answerBasics, driverRig, ERROR, OK, run } from "./script-modem.js";

describe("modem generic 27.007 base", () => {
  it("keeps `new GenericModem(at, platform)` working, with no socket commands", async () => {
    const { at, platform, script } = driverRig("generic");
    answerBasics(script);
    const modem = new GenericModem(at, platform);
    await run(platform, modem.init());
    await assert.rejects(modem.openTcp("10.0.0.1", 1), ModemUnsupportedError);
  });

  it("waits while the SIM is busy (+CME ERROR: 14), then succeeds", async () => {
    const { modem, platform, script } = driverRig("generic");
    answerBasics(script);
    script.once("AT+CPIN?", "\r\n+CME ERROR: 14\r\n").once("AT+CPIN?", "\r\n+CME ERROR: 14\r\n");
    await run(platform, modem.init());
    assert.equal(script.commands.filter((c) => c === "AT+CPIN?").length, 3);
  });

  it("enters the PIN once when asked, and reports a locked SIM clearly otherwise", async () => {
    const withPin = driverRig("generic");
    answerBasics(withPin.script);
    let entered = false;
    withPin.script.on("AT+CPIN?", () => withPin.script.send(`\r\n+CPIN: ${entered ? "READY" : "SIM PIN"}\r\n${OK}`)).once('AT+CPIN="1234"', () => {
      entered = true;
      withPin.script.send(OK);
    });
    await run(withPin.platform, withPin.modem.init({ pin: "1234" }));
    assert.ok(withPin.script.commands.includes('AT+CPIN="1234"'));

    const noPin = driverRig("generic");
    answerBasics(noPin.script);
    noPin.script.on("AT+CPIN?", `\r\n+CPIN: SIM PIN\r\n${OK}`);
    const error = await assert.rejects(run(noPin.platform, noPin.modem.init()), SimLockedError, /supply the PIN/);
    assert.equal((error as SimLockedError).state, "SIM PIN");

    const wrong = driverRig("generic");
    answerBasics(wrong.script);
    wrong.script.on("AT+CPIN?", `\r\n+CPIN: SIM PIN\r\n${OK}`).on('AT+CPIN="0000"', "\r\n+CME ERROR: 16\r\n");
    await assert.rejects(run(wrong.platform, wrong.modem.init({ pin: "0000" })), SimLockedError, /refused the PIN/);

    const puk = driverRig("generic");
    answerBasics(puk.script);
    puk.script.on("AT+CPIN?", `\r\n+CPIN: SIM PUK\r\n${OK}`);
    await assert.rejects(run(puk.platform, puk.modem.init({ pin: "1234" })), SimLockedError, /PUK/);

    const absent = driverRig("generic");
    answerBasics(absent.script);
    absent.script.on("AT+CPIN?", "\r\n+CME ERROR: 10\r\n");
    await assert.rejects(run(absent.platform, absent.modem.init()), SimNotReadyError, /no SIM/);
  });

  it("reads network time as UTC and refuses the modem's power-on clock", async () => {
    const { modem, platform, script } = driverRig("generic");
    answerBasics(script);
    await run(platform, modem.init());
    script.once("AT+CCLK?", `\r\n+CCLK: "26/01/15,10:20:30+08"\r\n${OK}`);
    const time = await run(platform, modem.networkTime());
    assert.equal(time.toISOString(), "2026-01-15T08:20:30.000Z");
    script.once("AT+CCLK?", `\r\n+CCLK: "80/01/06,00:00:12+00"\r\n${OK}`);
    await assert.rejects(run(platform, modem.networkTime()), NetworkTimeUnavailableError, /1980/);
  });

  it("reports signal quality from AT+CSQ (99 = unknown)", async () => {
    const { modem, platform, script } = driverRig("generic");
    answerBasics(script);
    script.once("AT+CSQ", `\r\n+CSQ: 15,2\r\n${OK}`).once("AT+CSQ", `\r\n+CSQ: 99,99\r\n${OK}`);
    assert.deepEqual(await run(platform, modem.signalQuality()), { rssi: 15, dbm: -83, ber: 2 });
    assert.deepEqual(await run(platform, modem.signalQuality()), { rssi: undefined, dbm: undefined, ber: undefined });
  });

  it("retries SIM busy on the SIM port a bounded number of times", async () => {
    const { modem, platform, script } = driverRig("generic", { simBusyRetries: 2 });
    script.on(/^AT\+CSIM=/, "\r\n+CME ERROR: 14\r\n");
    const error = await assert.rejects(run(platform, modem.simPort.send('AT+CSIM=10,"0070000001"', { prefix: "+CSIM:" })), AtCmeError);
    assert.equal((error as AtCmeError).code, 14);
    assert.equal(script.commands.length, 3);
  });

  it("climbs the recovery ladder in order: resync, re-init, re-activate, soft reset, then the board's hard reset", async () => {
    let hardResets = 0;
    let healthy = false;
    const { modem, platform, script } = driverRig("generic", { recovery: { rounds: 1 }, hooks: { hardReset: async () => void (hardResets++, (healthy = true)) } });
    answerBasics(script);
    await run(platform, modem.init());
    script.commands.length = 0;
    // A wedged modem: it loses its settings (AT+CMEE back to 0) and refuses to restart itself,
    // until the board pulls its reset pin.
    script.on("AT+CMEE?", () => script.send(`\r\n+CMEE: ${healthy ? 1 : 0}\r\n${OK}`)).on("AT+CFUN=1,1", ERROR);
    const step = await run(platform, modem.recover("test"), 120000);
    assert.equal(step, "hard-reset");
    assert.equal(hardResets, 1);
    assert.deepEqual(script.commands, [
      ...["AT", "AT+CMEE?"], // resync, then the settings check
      ...["AT", "ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CMEE?"], // re-initialise
      "AT+CMEE?", // re-activate (nothing attached), check
      "AT+CFUN=1,1", // soft reset, refused
      ...["AT", "AT", "ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CMEE?"], // hard reset: synchronise, re-initialise, check
    ]);
  });
});
