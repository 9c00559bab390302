import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { T0ProtocolError } from "../../../modules/sim/errors.js";
import { exchangeApdu } from "../../../modules/sim/t0.js";
import { ApduCounters } from "../../../modules/sim/transport.js";
import * as assert from "../../lib/portable/assert.js";
import { ScriptedTransport } from "./scripted-transport.js";

const DIGEST = "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9"; // SHA-256("hello world"), iotsafe.md §5
const R = "C0C1B4B2" + "11".repeat(24) + "06BBD73B";
const S = "8032E0E9" + "22".repeat(24) + "121DCE51";

describe("sim/t0: ISO 7816-3 T=0 procedure status words", () => {
  it("answers 6143 with GET RESPONSE 81C0000043 on the command's class (iotsafe.md §5.1 steps 5–6)", async () => {
    const card = new ScriptedTransport([
      [`812B8001229E20${DIGEST}`, "6143"],
      ["81C0000043", `330040${R}${S}9000`],
    ]);
    const response = await exchangeApdu(card, { cla: 0x81, ins: 0x2b, p1: 0x80, p2: 0x01, data: fromHex(`9E20${DIGEST}`) });
    card.assertDone();
    assert.equal(response.status.hex, "9000");
    assert.equal(toHex(response.data).toUpperCase(), `330040${R}${S}`);
  });

  it("keeps the data when the modem already ran GET RESPONSE itself", async () => {
    const card = new ScriptedTransport([["8184000020", "AA".repeat(32) + "9000"]]);
    const response = await exchangeApdu(card, { cla: 0x81, ins: 0x84, p1: 0, p2: 0, le: 32 });
    assert.equal(response.data.length, 32);
    card.assertDone();
  });

  it("loops while the card answers 61yy again, concatenating the parts", async () => {
    const card = new ScriptedTransport([
      ["81CB010000", "6110"],
      ["81C0000010", "01".repeat(16) + "6108"],
      ["81C0000008", "02".repeat(8) + "9000"],
    ]);
    const response = await exchangeApdu(card, { cla: 0x81, ins: 0xcb, p1: 1, p2: 0, le: 256 });
    assert.equal(toHex(response.data), "01".repeat(16) + "02".repeat(8));
    assert.equal(response.status.hex, "9000");
  });

  it("asks for 256 bytes when the card answers 6100", async () => {
    const card = new ScriptedTransport([
      ["81B000000383010200", "6100"],
      ["81C0000000", "55".repeat(256) + "9000"],
    ]);
    const response = await exchangeApdu(card, { cla: 0x81, ins: 0xb0, p1: 0, p2: 0, data: fromHex("830102"), le: 256 });
    assert.equal(response.data.length, 256);
  });

  it("sends GET RESPONSE with the interindustry class when configured (Thales style)", async () => {
    const card = new ScriptedTransport([
      ["81CD000003850104", "6147"],
      ["01C0000047", "34".padEnd(142, "0") + "9000"],
    ]);
    await exchangeApdu(card, { cla: 0x81, ins: 0xcd, p1: 0, p2: 0, data: fromHex("850104") }, undefined, { getResponseClass: "interindustry" });
    card.assertDone();
  });

  it("resends a command answered 6Cxx with Le = xx (iotsafe.md §3.2: application info Le 44)", async () => {
    const card = new ScriptedTransport([
      ["81CB000044", "6C40"],
      ["81CB000040", "10".repeat(64) + "9000"],
    ]);
    const response = await exchangeApdu(card, { cla: 0x81, ins: 0xcb, p1: 0, p2: 0, le: 0x44 });
    assert.equal(response.data.length, 64);
    card.assertDone();
  });

  it("adds Le to a case-3 command answered 6Cxx", async () => {
    const card = new ScriptedTransport([
      ["81CBC30003830102", "6C10"],
      ["81CBC3000383010210", "83010260010120020100" + "9000"],
    ]);
    await exchangeApdu(card, { cla: 0x81, ins: 0xcb, p1: 0xc3, p2: 0, data: fromHex("830102") });
    card.assertDone();
  });

  it("corrects Le on GET RESPONSE too", async () => {
    const card = new ScriptedTransport([
      ["8184000008", "6108"],
      ["81C0000008", "6C04"],
      ["81C0000004", "01020304" + "9000"],
    ]);
    const response = await exchangeApdu(card, { cla: 0x81, ins: 0x84, p1: 0, p2: 0, le: 8 });
    assert.equal(toHex(response.data), "01020304");
  });

  it("takes 91xx as success and returns it (proactive command pending)", async () => {
    const card = new ScriptedTransport([["0070000001", "019110"]]);
    const response = await exchangeApdu(card, { cla: 0, ins: 0x70, p1: 0, p2: 0, le: 1 });
    assert.ok(response.status.isSuccess);
    assert.ok(response.status.proactiveCommandPending);
    assert.deepEqual(response.data, Uint8Array.of(1));
  });

  it("treats the GSM 9Fxx like 61xx", async () => {
    const card = new ScriptedTransport([
      ["8184000004", "9F04"],
      ["81C0000004", "0A0B0C0D9000"],
    ]);
    const response = await exchangeApdu(card, { cla: 0x81, ins: 0x84, p1: 0, p2: 0, le: 4 });
    assert.equal(toHex(response.data), "0a0b0c0d");
  });

  it("returns a failing status word instead of throwing", async () => {
    const card = new ScriptedTransport([["01A4040007A0000005590010", "6A82"]]);
    const response = await exchangeApdu(card, { cla: 0x01, ins: 0xa4, p1: 4, p2: 0, data: fromHex("A0000005590010") });
    assert.equal(response.status.hex, "6A82");
    assert.equal(response.data.length, 0);
  });

  it("gives up after a bounded number of GET RESPONSE rounds", async () => {
    const steps: [string, string][] = [["8184000010", "6101"]];
    for (let i = 0; i < 3; i++) steps.push(["81C0000001", "006101"]);
    const card = new ScriptedTransport(steps);
    await assert.rejects(exchangeApdu(card, { cla: 0x81, ins: 0x84, p1: 0, p2: 0, le: 16 }, undefined, { maxGetResponses: 3 }), T0ProtocolError, /3 GET RESPONSE/);
  });

  it("gives up when the card keeps answering 6Cxx", async () => {
    const card = new ScriptedTransport([
      ["81CB000044", "6C40"],
      ["81CB000040", "6C41"],
      ["81CB000041", "6C42"],
    ]);
    await assert.rejects(exchangeApdu(card, { cla: 0x81, ins: 0xcb, p1: 0, p2: 0, le: 0x44 }), T0ProtocolError, /wrong Le/);
  });

  it("bounds the collected response size", async () => {
    const card = new ScriptedTransport([
      ["8184000000", "6100"],
      ["81C0000000", "00".repeat(256) + "6100"],
    ]);
    await assert.rejects(exchangeApdu(card, { cla: 0x81, ins: 0x84, p1: 0, p2: 0, le: 256 }, undefined, { maxResponseBytes: 200 }), T0ProtocolError, /exceeds 200/);
  });

  it("counts APDUs and bytes, GET RESPONSE included", async () => {
    const card = new ScriptedTransport([
      ["8184000004", "6104"],
      ["81C0000004", "0102030490 00"],
    ]);
    const counters = new ApduCounters();
    const start = counters.snapshot();
    await exchangeApdu(card, { cla: 0x81, ins: 0x84, p1: 0, p2: 0, le: 4 }, counters);
    assert.deepEqual(counters.since(start), { apdus: 2, bytesSent: 10, bytesReceived: 8 });
  });

  it("passes the timeout to the transport", async () => {
    const card = new ScriptedTransport([["8184000004", "010203049000"]]);
    await exchangeApdu(card, { cla: 0x81, ins: 0x84, p1: 0, p2: 0, le: 4 }, undefined, { timeoutMs: 12345 });
    assert.equal(card.timeouts[0], 12345);
  });
});
