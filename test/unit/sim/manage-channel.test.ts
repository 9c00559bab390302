import { fromHex } from "../../../modules/bytes/bytes.js";
import { ApplicationNotFoundError, CardStatusError, ChannelError } from "../../../modules/sim/errors.js";
import { ManageChannelAccess } from "../../../modules/sim/manage-channel.js";
import * as assert from "../../lib/portable/assert.js";
import { ScriptedTransport } from "./scripted-transport.js";

const GSMA = fromHex("A0000005590010");
const THALES = fromHex("A0000002480400");

describe("sim/manage-channel: host-managed logical channels", () => {
  it("opens channel 1, selects the AID with CLA 01, sends commands as 81 and closes with 0070800100 (iotsafe.md §5.1)", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "019000"],
      ["01A4040007A0000005590010", "9000"],
      ["8184000020", "AB".repeat(32) + "9000"],
      ["0070800100", "9000"],
    ]);
    const access = new ManageChannelAccess(card);
    const channel = await access.openApplication([GSMA]);
    assert.equal(channel.channel, 1);
    assert.deepEqual(channel.aid, GSMA);
    const random = await channel.transmit({ cla: 0x80, ins: 0x84, p1: 0, p2: 0, le: 0x20 });
    assert.equal(random.data.length, 32);
    await channel.close();
    assert.ok(!channel.isOpen);
    card.assertDone();
    await assert.rejects(channel.transmit({ cla: 0x80, ins: 0x84, p1: 0, p2: 0, le: 1 }), ChannelError, /closed/);
  });

  it("takes a SELECT answered 61xx as success (FCI fetched by GET RESPONSE)", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "029000"],
      ["02A4040007A0000005590010", "6112"],
      ["02C0000012", "6F10" + "00".repeat(16) + "9000"],
    ]);
    const channel = await new ManageChannelAccess(card).openApplication([GSMA]);
    assert.equal(channel.channel, 2);
    card.assertDone();
  });

  it("accepts 91xx on MANAGE CHANNEL open (Thales fix, iotsafe.md §1.3)", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "039120"],
      ["03A4040007A0000005590010", "9000"],
    ]);
    const channel = await new ManageChannelAccess(card).openApplication([GSMA]);
    assert.equal(channel.channel, 3);
  });

  it("tries the AIDs in order: 6A82 on the first, the second selected", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "019000"],
      ["01A4040007A0000005590010", "6A82"],
      ["01A4040007A0000002480400", "9000"],
    ]);
    const channel = await new ManageChannelAccess(card).openApplication([GSMA, THALES]);
    assert.deepEqual(channel.aid, THALES);
    card.assertDone();
  });

  it("closes the channel and names every AID's answer when none is present (1NCE trace, Orange #7)", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "019000"],
      ["01A4040007A0000005590010", "6A82"],
      ["01A4040007A0000002480400", "6A82"],
      ["0070800100", "9000"],
    ]);
    const error = await assert.rejects(new ManageChannelAccess(card).openApplication([GSMA, THALES]), ApplicationNotFoundError);
    assert.match(error.message, /A0000005590010 → 6A82/);
    assert.match(error.message, /A0000002480400 → 6A82/);
    card.assertDone();
  });

  it("codes extended channels 4–19 in CLA (SELECT 41…, commands C1…)", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "059000"],
      ["41A4040007A0000005590010", "9000"],
      ["C184000008", "0102030405060708" + "9000"],
      ["0070800500", "9000"],
    ]);
    const channel = await new ManageChannelAccess(card).openApplication([GSMA]);
    assert.equal(channel.channel, 5);
    await channel.transmit({ cla: 0x80, ins: 0x84, p1: 0, p2: 0, le: 8 });
    await channel.close();
    card.assertDone();
  });

  it("refuses a channel above the configured maximum and gives it back", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "049000"],
      ["0070800400", "9000"],
    ]);
    await assert.rejects(new ManageChannelAccess(card, { maxChannel: 3 }).openApplication([GSMA]), ChannelError, /channel 4, outside 1..3/);
    card.assertDone();
  });

  it("refuses a MANAGE CHANNEL answer without exactly one channel byte", async () => {
    const card = new ScriptedTransport([["0070000001", "9000"]]);
    await assert.rejects(new ManageChannelAccess(card).openApplication([GSMA]), ChannelError, /0 data bytes/);
  });

  it("recovers channels 1..3 left by an earlier boot, ignoring every error", async () => {
    const card = new ScriptedTransport([
      ["0070800100", "9000"],
      ["0070800200", "6881"],
      ["0070800300", "6A86"],
    ]);
    await new ManageChannelAccess(card).recover();
    card.assertDone();
  });

  it("recovers a configured channel list", async () => {
    const card = new ScriptedTransport([["0070800200", "9000"]]);
    await new ManageChannelAccess(card, { recoverChannels: [2] }).recover();
    card.assertDone();
  });

  it("closes stale channels and retries once when MANAGE CHANNEL open fails", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "6881"],
      ["0070800100", "9000"],
      ["0070000001", "019000"],
      ["01A4040007A0000005590010", "9000"],
    ]);
    const channel = await new ManageChannelAccess(card, { recoverChannels: [1] }).openApplication([GSMA]);
    assert.equal(channel.channel, 1);
    card.assertDone();
  });

  it("reports a second MANAGE CHANNEL failure as a CardStatusError", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "6A81"],
      ["0070000001", "6A81"],
    ]);
    await assert.rejects(new ManageChannelAccess(card, { recoverChannels: [] }).openApplication([GSMA]), CardStatusError, /MANAGE CHANNEL open: card answered 6A81/);
  });

  it("closes the channel when the transport fails during SELECT", async () => {
    let calls = 0;
    const failing = {
      name: "failing",
      async transmit(apdu: Uint8Array): Promise<Uint8Array> {
        calls++;
        if (apdu[1] === 0x70 && apdu[2] === 0x00) return fromHex("019000");
        if (apdu[1] === 0xa4) throw new Error("link dropped");
        return fromHex("9000");
      },
    };
    await assert.rejects(new ManageChannelAccess(failing).openApplication([GSMA]), Error, /link dropped/);
    assert.equal(calls, 3);
  });

  it("counts APDUs per access", async () => {
    const card = new ScriptedTransport([
      ["0070000001", "019000"],
      ["01A4040007A0000005590010", "9000"],
    ]);
    const access = new ManageChannelAccess(card);
    await access.openApplication([GSMA]);
    assert.equal(access.counters.apdus, 2);
    assert.equal(access.counters.bytesSent, 5 + 12);
    assert.equal(access.counters.bytesReceived, 3 + 2);
  });
});
