// Logical channels, class bytes and the applet selection of the virtual card, including what
// clients in the field send (iotsafe.md §1.3, §1.4, §9): SELECT without MANAGE CHANNEL, CLA 0n/8n,
// channels 4..19, P3 with no data, case-1 APDUs, a trailing Le.
import assert from "node:assert/strict";
import { GSMA_AID, openAndSelect, send, testCard } from "./card-fixtures.js";

const APP_INFO_LENGTH = 68;

describe("card channels: MANAGE CHANNEL", () => {
  it("opens 01, 02, 03, then has no channel left (6A81); a closed number is handed out again", async () => {
    const card = testCard();
    assert.equal(await send(card, "0070000001"), "019000");
    assert.equal(await send(card, "0070000001"), "029000");
    assert.equal(await send(card, "0070000000"), "039000");
    assert.equal(await send(card, "0070000001"), "6A81");
    assert.equal(await send(card, "0070800200"), "9000");
    assert.equal(await send(card, "00700000"), "029000"); // case 1, no P3: still answers the number
    assert.deepEqual(card.openChannels, [1, 2, 3]);
  });

  it("opens a named channel (P2) once; beyond the maximum 6A86", async () => {
    const card = testCard();
    assert.equal(await send(card, "0070000200"), "9000");
    assert.equal(await send(card, "0070000200"), "6A81");
    assert.equal(await send(card, "0070000400"), "6A86");
    assert.deepEqual(card.openChannels, [2]);
  });

  it("closes with and without P3, by P2 or by the channel in CLA (P2 00); not open 6A88; basic channel 6A86", async () => {
    const card = testCard();
    for (let i = 0; i < 3; i++) await send(card, "0070000001");
    assert.equal(await send(card, "0070800100"), "9000");
    assert.equal(await send(card, "00708002"), "9000");
    assert.equal(await send(card, "03708000"), "9000");
    assert.deepEqual(card.openChannels, []);
    assert.equal(await send(card, "0070800100"), "6A88");
    assert.equal(await send(card, "0070800000"), "6A86");
    assert.equal(await send(card, "0070400000"), "6A86");
  });

  it("a command on a channel that is not open: 6881", async () => {
    const card = testCard();
    assert.equal(await send(card, "82CB000044"), "6881");
    assert.equal(await send(card, "02C0000010"), "6881");
  });

  it("91xx on open when a proactive command is pending (profile option)", async () => {
    const card = testCard({ proactiveOnOpen: true });
    assert.equal(await send(card, "0070000001"), "019110");
  });

  it("closing a channel ends its sessions; a new SELECT starts without them", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "812A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(card, "0070800100"), "9000");
    assert.equal(await send(card, "0070000001"), "019000");
    assert.equal(await send(card, "812B8001029E00"), "6D00", "nothing selected on the new channel 1");
    assert.equal(await send(card, "01A4040007" + GSMA_AID), "9000");
    assert.equal(await send(card, "812A010100"), "6A86", "no session 1 any more");
  });
});

describe("card channels: SELECT", () => {
  it("on channel 1 without MANAGE CHANNEL (wolfSSL), after it, and on the basic channel", async () => {
    const implicit = testCard();
    assert.equal(await send(implicit, "01A4040007" + GSMA_AID), "9000");
    assert.deepEqual(implicit.openChannels, [1]);
    assert.equal((await send(implicit, "81CB000044")).length, 2 * (APP_INFO_LENGTH + 2));

    const managed = testCard();
    await openAndSelect(managed);
    assert.equal((await send(managed, "81CB000044")).length, 2 * (APP_INFO_LENGTH + 2));

    const basic = testCard();
    assert.equal(await send(basic, "00A4040007" + GSMA_AID), "9000");
    assert.equal((await send(basic, "80CB000044")).length, 2 * (APP_INFO_LENGTH + 2));
    assert.equal((await send(basic, "00CB000044")).length, 2 * (APP_INFO_LENGTH + 2));
  });

  it("implicit opening can be switched off (then 6881), and never goes beyond the channel maximum", async () => {
    const card = testCard({ implicitChannelOpen: false });
    assert.equal(await send(card, "01A4040007" + GSMA_AID), "6881");
    const small = testCard();
    assert.equal(await send(small, "43A4040007" + GSMA_AID), "6881"); // channel 7 > 3
  });

  it("accepts the GSMA AID and both Thales AIDs; an unknown AID is 6A82 and leaves no applet selected", async () => {
    const card = testCard();
    assert.equal(await send(card, "00A4040007A0000002480400"), "9000");
    assert.equal(await send(card, "00A404000FA00000003053F12401770101495341"), "9000");
    assert.equal(await send(card, "00A4040007" + GSMA_AID), "9000");
    const other = testCard();
    assert.equal(await send(other, "00A4040007A0000005590011"), "6A82");
    assert.equal(await send(other, "80CB000044"), "6D00");
  });

  it("only the AIDs of the profile are installed", async () => {
    const card = testCard({ aids: ["a00000003053f12401770101495341"] });
    assert.equal(await send(card, "00A4040007" + GSMA_AID), "6A82");
    assert.equal(await send(card, "00A404000FA00000003053F12401770101495341"), "9000");
  });

  it("FCI 6F 84 AID only when Le asks for it (or P2 0C suppresses it); selection by FID 6A82; bad P1/P2 6A86", async () => {
    const card = testCard();
    assert.equal(await send(card, "00A4040007" + GSMA_AID + "00"), "6F098407" + GSMA_AID + "9000");
    assert.equal(await send(card, "00A4040C07" + GSMA_AID + "00"), "9000");
    assert.equal(await send(card, "00A40004023F00"), "6A82");
    assert.equal(await send(card, "00A4040207" + GSMA_AID), "6A86");
    assert.equal(await send(card, "00A4050007" + GSMA_AID), "6A86");
    assert.equal(await send(card, "00A40400"), "6700");
  });

  it("a selection belongs to its channel", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "0070000001"), "029000");
    assert.equal(await send(card, "82CB000044"), "6D00");
    assert.equal((await send(card, "81CB000044")).length, 2 * (APP_INFO_LENGTH + 2));
  });

  it("reset() closes the logical channels and forgets selections", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "00A4040007" + GSMA_AID), "9000");
    card.reset();
    assert.deepEqual(card.openChannels, []);
    assert.equal(await send(card, "80CB000044"), "6D00");
    assert.equal(await send(card, "81CB000044"), "6881");
  });
});

describe("card channels: class byte", () => {
  it("IoT SAFE INS under 0n and 8n by default", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "012A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(card, "812A010100"), "9000");
  });

  it("an applet that takes only 8n answers 6E00 to 0n, and the reverse (profile option)", async () => {
    const proprietary = testCard({ commandClass: "proprietary" });
    await openAndSelect(proprietary);
    assert.equal(await send(proprietary, "01CB000044"), "6E00");
    assert.equal((await send(proprietary, "81CB000044")).slice(-4), "9000");
    const interindustry = testCard({ commandClass: "interindustry" });
    await openAndSelect(interindustry);
    assert.equal(await send(interindustry, "81CB000044"), "6E00");
    assert.equal((await send(interindustry, "01CB000044")).slice(-4), "9000");
  });

  it("SELECT and MANAGE CHANNEL in a proprietary class: 6E00", async () => {
    const card = testCard();
    assert.equal(await send(card, "80A4040007" + GSMA_AID), "6E00");
    assert.equal(await send(card, "8070000001"), "6E00");
  });

  it("secure messaging, command chaining, reserved and invalid classes: 6E00", async () => {
    const card = testCard();
    assert.equal(await send(card, "00A4040007" + GSMA_AID), "9000");
    for (const cla of ["0C", "8C", "10", "90", "20", "3F", "A0", "FF", "60", "70", "E0"]) {
      assert.equal(await send(card, cla + "CB000044"), "6E00", `CLA ${cla}`);
    }
  });

  it("channels 4..19: CLA 40+(n−4) interindustry and C0+(n−4) proprietary", async () => {
    const card = testCard({ maxChannels: 19 });
    for (let n = 1; n <= 19; n++) assert.equal(await send(card, "0070000001"), n.toString(16).toUpperCase().padStart(2, "0") + "9000");
    assert.equal(await send(card, "0070000001"), "6A81");
    for (const n of [4, 11, 19]) {
      const interindustry = (0x40 + n - 4).toString(16).toUpperCase();
      const proprietary = (0xc0 + n - 4).toString(16).toUpperCase();
      assert.equal(await send(card, interindustry + "A4040007" + GSMA_AID), "9000", `SELECT on ${n}`);
      assert.equal((await send(card, proprietary + "CB000044")).length, 2 * (APP_INFO_LENGTH + 2), `8n form on ${n}`);
      assert.equal((await send(card, interindustry + "CB000044")).length, 2 * (APP_INFO_LENGTH + 2), `0n form on ${n}`);
    }
    // Channel 5 is open but nothing is selected there.
    assert.equal(await send(card, "C1CB000044"), "6D00");
    assert.equal(await send(card, "00708013"), "9000");
    assert.equal(await send(card, "CFCB000044"), "6881");
  });
});

describe("card channels: APDU forms clients send", () => {
  it("P3 with no data (Lc=00), case 1 without P3, and a trailing Le are all accepted", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "812A00010D840101A1010391020001920104" + "00"), "9000"); // trailing Le
    assert.equal(await send(card, "812A010100"), "9000"); // P3 00, no data
    assert.equal(await send(card, "812A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(card, "812A0101"), "9000"); // case 1, no P3
    assert.equal(await send(card, "8124010200"), "6A86");
    assert.equal(await send(card, "81240102"), "6A86");
  });

  it("GET RESPONSE with nothing pending: 6985", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "81C0000010"), "6985");
    assert.equal(await send(card, "01C0000010"), "6985");
  });
});
