import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { AtCmeError, AtCommandError, AtTimeoutError } from "../../../modules/at/errors.js";
import { CglaTransport, CsimTransport, parseCchoAnswer, parseSimAccessAnswer, SimUnavailableError } from "../../../modules/sim/at-transport.js";
import { ApplicationNotFoundError, SimTransportResponseError, TransportRefusedError } from "../../../modules/sim/errors.js";
import { createAtCardAccess, FallbackCardAccess } from "../../../modules/sim/fallback.js";
import { ManageChannelAccess } from "../../../modules/sim/manage-channel.js";
import { ModemChannelAccess } from "../../../modules/sim/modem-channel.js";
import * as assert from "../../lib/portable/assert.js";
import { ScriptedAtPort } from "./scripted-transport.js";

const GSMA = fromHex("A0000005590010");
const ok = (...lines: string[]) => ({ lines });
const fails = (error: Error) => ({ error });

describe("sim/at-transport: AT+CSIM", () => {
  it("sends AT+CSIM=<hex chars>,\"<APDU>\" and decodes +CSIM: 6,\"019000\" (iotsafe.md §5.1 step 1)", async () => {
    const at = new ScriptedAtPort([['AT+CSIM=10,"0070000001"', ok('+CSIM: 6,"019000"')]]);
    const answer = await new CsimTransport(at).transmit(fromHex("0070000001"), { timeoutMs: 2500 });
    assert.equal(toHex(answer), "019000");
    assert.equal(at.sent[0]!.prefix, "+CSIM:");
    assert.equal(at.sent[0]!.timeoutMs, 2500);
  });

  it("builds the 78-character sign update of iotsafe.md §5.1 step 5", async () => {
    const apdu = "812B8001229E20B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9";
    const at = new ScriptedAtPort([[`AT+CSIM=78,"${apdu}"`, ok('+CSIM: 4,"6143"')]]);
    assert.equal(toHex(await new CsimTransport(at).transmit(fromHex(apdu))), "6143");
  });

  it("accepts answers without quotes (Sequans) and with spaces", async () => {
    assert.equal(toHex(parseSimAccessAnswer("+CSIM:", ["+CSIM: 6,019000"], "t")), "019000");
    assert.equal(toHex(parseSimAccessAnswer("+CSIM:", ['+CSIM:6 , "019000" '], "t")), "019000");
    assert.equal(toHex(parseSimAccessAnswer("+CSIM:", ["+CSIM: 4,9000"], "t")), "9000");
  });

  it("ignores stale lines before the answer and takes the last +CSIM line", async () => {
    const lines = ["garbage", '+CSIM: 4,"6A82"', '+CSIM: 6,"029000"'];
    assert.equal(toHex(parseSimAccessAnswer("+CSIM:", lines, "t")), "029000");
  });

  it("refuses malformed answers with SimTransportResponseError", () => {
    const bad: [string[], RegExp][] = [
      [[], /no \+CSIM/],
      [['+CSIM: 6,"0190"'], /declares length 6/],
      [['+CSIM: 5,"01900"'], /odd/],
      [['+CSIM: 2,"90"'], /no status word/],
      [['+CSIM: 6,"01G000"'], /malformed/],
      [['+CSIM: "019000"'], /malformed/],
      [['+CSIM: 6,"019000'], /malformed/],
      [["+CSIM: " + "1".repeat(2000)], /too long/],
    ];
    for (const [lines, pattern] of bad) assert.throws(() => parseSimAccessAnswer("+CSIM:", lines, "AT+CSIM"), SimTransportResponseError, pattern);
  });

  it("tolerates a modem that counts bytes instead of hex characters", () => {
    assert.equal(toHex(parseSimAccessAnswer("+CSIM:", ['+CSIM: 3,"019000"'], "t")), "019000");
  });

  it("maps ERROR and +CME ERROR to TransportRefusedError, SIM-state CME codes to SimUnavailableError", async () => {
    const command = 'AT+CSIM=10,"0070000001"';
    const refused = new ScriptedAtPort([[command, fails(new AtCommandError(command, "ERROR"))]]);
    const e1 = await assert.rejects(new CsimTransport(refused).transmit(fromHex("0070000001")), TransportRefusedError, /AT\+CSIM: modem refused/);
    assert.ok((e1 as TransportRefusedError).reason instanceof AtCommandError);
    const cme3 = new ScriptedAtPort([[command, fails(new AtCmeError(command, "+CME ERROR: 3", "3"))]]);
    await assert.rejects(new CsimTransport(cme3).transmit(fromHex("0070000001")), TransportRefusedError, /operation not allowed/);
    const busy = new ScriptedAtPort([[command, fails(new AtCmeError(command, "+CME ERROR: 14", "14"))]]);
    const e2 = await assert.rejects(new CsimTransport(busy).transmit(fromHex("0070000001")), SimUnavailableError, /SIM busy/);
    assert.equal((e2 as SimUnavailableError).code, 14);
  });

  it("passes timeouts through unchanged", async () => {
    const command = 'AT+CSIM=10,"0070000001"';
    const at = new ScriptedAtPort([[command, fails(new AtTimeoutError(command, 10000))]]);
    await assert.rejects(new CsimTransport(at).transmit(fromHex("0070000001")), AtTimeoutError);
  });
});

describe("sim/at-transport: AT+CCHO / AT+CGLA / AT+CCHC", () => {
  it("reads the session id from +CCHO: <id>, a bare line, or a Sierra hex handle", () => {
    assert.equal(parseCchoAnswer(["+CCHO: 1"]), "1");
    assert.equal(parseCchoAnswer(["3"]), "3");
    assert.equal(parseCchoAnswer(['+CCHO: "000000000385a7cf"']), "000000000385a7cf");
    assert.equal(parseCchoAnswer(["+CEREG: 1", "+CCHO: 7"]), "7");
    assert.throws(() => parseCchoAnswer([]), SimTransportResponseError);
    assert.throws(() => parseCchoAnswer(["+CCHO: -1"]), SimTransportResponseError);
  });

  it("sends AT+CGLA=<sid>,<len>,\"<apdu>\" and decodes +CGLA", async () => {
    const at = new ScriptedAtPort([['AT+CGLA=5,10,"8084000004"', ok('+CGLA: 12,"010203049000"')]]);
    const answer = await new CglaTransport(at, "5").transmit(fromHex("8084000004"));
    assert.equal(toHex(answer), "010203049000");
    assert.equal(at.sent[0]!.prefix, "+CGLA:");
  });

  it("opens with AT+CCHO, sends CLA with channel bits cleared although the session id is 3, closes with AT+CCHC", async () => {
    const at = new ScriptedAtPort([
      ['AT+CCHO="A0000005590010"', ok("+CCHO: 3")],
      ['AT+CGLA=3,10,"8084000008"', ok('+CGLA: 20,"01020304050607089000"')],
      ["AT+CCHC=3", ok()],
    ]);
    const channel = await new ModemChannelAccess(at).openApplication([GSMA]);
    assert.equal(channel.channel, 0);
    const response = await channel.transmit({ cla: 0x80, ins: 0x84, p1: 0, p2: 0, le: 8 });
    assert.equal(response.data.length, 8);
    await channel.close();
    at.assertDone();
  });

  it("follows 61xx over CGLA with GET RESPONSE on the same session", async () => {
    const at = new ScriptedAtPort([
      ["AT+CCHO=\"A0000005590010\"", ok("1")],
      ['AT+CGLA=1,16,"80CD000003850104"', ok('+CGLA: 4,"6147"')],
      ['AT+CGLA=1,10,"80C0000047"', ok(`+CGLA: 146,"${"34".repeat(71)}9000"`)],
    ]);
    const channel = await new ModemChannelAccess(at).openApplication([GSMA]);
    const response = await channel.transmit({ cla: 0x80, ins: 0xcd, p1: 0, p2: 0, data: fromHex("850104") });
    assert.equal(response.data.length, 71);
    at.assertDone();
  });

  it("tries the next AID when AT+CCHO is refused for one", async () => {
    const at = new ScriptedAtPort([
      ['AT+CCHO="A0000005590010"', fails(new AtCmeError('AT+CCHO="A0000005590010"', "+CME ERROR: 22", "22"))],
      ['AT+CCHO="A0000002480400"', ok("+CCHO: 2")],
    ]);
    const channel = await new ModemChannelAccess(at).openApplication([GSMA, fromHex("A0000002480400")]);
    assert.equal(toHex(channel.aid).toUpperCase(), "A0000002480400");
  });

  it("reports AT+CCHO refused for every AID as TransportRefusedError", async () => {
    const at = new ScriptedAtPort([['AT+CCHO="A0000005590010"', fails(new AtCommandError('AT+CCHO="A0000005590010"', "ERROR"))]]);
    await assert.rejects(new ModemChannelAccess(at).openApplication([GSMA]), TransportRefusedError, /refused for every AID/);
  });

  it("recovers sessions with AT+CCHC=1..3, ignoring errors", async () => {
    const at = new ScriptedAtPort([
      ["AT+CCHC=1", fails(new AtCmeError("AT+CCHC=1", "+CME ERROR: 4", "4"))],
      ["AT+CCHC=2", ok()],
      ["AT+CCHC=3", fails(new AtCommandError("AT+CCHC=3", "ERROR"))],
    ]);
    await new ModemChannelAccess(at).recover();
    at.assertDone();
  });
});

describe("sim/fallback: choosing the transport per modem", () => {
  it("falls back from AT+CSIM to AT+CCHO/CGLA when the modem answers ERROR, and stays there", async () => {
    const at = new ScriptedAtPort([
      ['AT+CSIM=10,"0070000001"', fails(new AtCommandError('AT+CSIM=10,"0070000001"', "ERROR"))],
      ['AT+CCHO="A0000005590010"', ok("+CCHO: 1")],
      ["AT+CCHC=1", ok()],
      ['AT+CCHO="A0000005590010"', ok("+CCHO: 2")],
    ]);
    const access = createAtCardAccess(at, { csim: { recoverChannels: [] } });
    const first = await access.openApplication([GSMA]);
    assert.match(first.description, /CGLA session 1/);
    await first.close();
    const second = await access.openApplication([GSMA]);
    assert.match(second.description, /CGLA session 2/);
    assert.match(access.current.name, /CCHO/);
    at.assertDone();
  });

  it("falls back from AT+CCHO to AT+CSIM in the reverse order", async () => {
    const at = new ScriptedAtPort([
      ['AT+CCHO="A0000005590010"', fails(new AtCmeError('AT+CCHO="A0000005590010"', "+CME ERROR: 4", "4"))],
      ['AT+CSIM=10,"0070000001"', ok('+CSIM: 6,"019000"')],
      ['AT+CSIM=24,"01A4040007A0000005590010"', ok('+CSIM: 4,"9000"')],
    ]);
    const access = createAtCardAccess(at, { order: ["cgla", "csim"] });
    const channel = await access.openApplication([GSMA]);
    assert.equal(channel.channel, 1);
    at.assertDone();
  });

  it("does not fall back on card answers: a missing applet stays ApplicationNotFoundError", async () => {
    const at = new ScriptedAtPort([
      ['AT+CSIM=10,"0070000001"', ok('+CSIM: 6,"019000"')],
      ['AT+CSIM=24,"01A4040007A0000005590010"', ok('+CSIM: 4,"6A82"')],
      ['AT+CSIM=10,"0070800100"', ok('+CSIM: 4,"9000"')],
    ]);
    await assert.rejects(createAtCardAccess(at).openApplication([GSMA]), ApplicationNotFoundError, /6A82/);
    at.assertDone();
  });

  it("reports the last refusal when every transport is refused", async () => {
    const at = new ScriptedAtPort([
      ['AT+CSIM=10,"0070000001"', fails(new AtCommandError('AT+CSIM=10,"0070000001"', "ERROR"))],
      ['AT+CCHO="A0000005590010"', fails(new AtCommandError('AT+CCHO="A0000005590010"', "ERROR"))],
    ]);
    await assert.rejects(createAtCardAccess(at).openApplication([GSMA]), TransportRefusedError, /AT\+CCHO/);
  });

  it("recovers with every strategy", async () => {
    const at = new ScriptedAtPort([
      ['AT+CSIM=10,"0070800100"', ok('+CSIM: 4,"6A86"')],
      ["AT+CCHC=1", fails(new AtCommandError("AT+CCHC=1", "ERROR"))],
    ]);
    const access = new FallbackCardAccess([
      new ManageChannelAccess(new CsimTransport(at), { recoverChannels: [1] }),
      new ModemChannelAccess(at, { recoverSessionIds: ["1"] }),
    ]);
    await access.recover();
    at.assertDone();
  });
});
