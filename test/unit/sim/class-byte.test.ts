import { channelOfClassByte, classByteForChannel, isProprietaryClass, withChannel } from "../../../modules/sim/class-byte.js";
import { ChannelError } from "../../../modules/sim/errors.js";
import * as assert from "../../lib/portable/assert.js";

// Expected values from iotsafe.md §1.4 and modems.md §1.2: channels 1–3 `0n`/`8n`,
// channels 4–19 `40 + (n−4)` interindustry and `C0 + (n−4)` proprietary.
describe("sim/class-byte: logical channels in CLA", () => {
  it("codes channels 0–3 in b2–b1", () => {
    assert.equal(classByteForChannel(0, false), 0x00);
    assert.equal(classByteForChannel(1, false), 0x01);
    assert.equal(classByteForChannel(3, false), 0x03);
    assert.equal(classByteForChannel(0, true), 0x80);
    assert.equal(classByteForChannel(1, true), 0x81);
    assert.equal(classByteForChannel(3, true), 0x83);
  });

  it("codes channels 4–19 in the further form", () => {
    assert.equal(classByteForChannel(4, false), 0x40);
    assert.equal(classByteForChannel(4, true), 0xc0);
    assert.equal(classByteForChannel(5, false), 0x41);
    assert.equal(classByteForChannel(19, false), 0x4f);
    assert.equal(classByteForChannel(19, true), 0xcf);
  });

  it("refuses channels outside 0..19", () => {
    assert.throws(() => classByteForChannel(20, false), ChannelError, /outside/);
    assert.throws(() => classByteForChannel(-1, true), ChannelError);
    assert.throws(() => classByteForChannel(1.5, true), ChannelError);
  });

  it("moves a CLA to another channel, keeping its class and chaining bit", () => {
    assert.equal(withChannel(0x80, 1), 0x81);
    assert.equal(withChannel(0x81, 2), 0x82);
    assert.equal(withChannel(0x00, 3), 0x03);
    assert.equal(withChannel(0x80, 5), 0xc1);
    assert.equal(withChannel(0xc1, 1), 0x81);
    assert.equal(withChannel(0x41, 0), 0x00);
    assert.equal(withChannel(0x90, 2), 0x92); // chaining bit b5 kept
    assert.equal(withChannel(0x10, 6), 0x52);
  });

  it("refuses secure messaging rather than dropping it", () => {
    assert.throws(() => withChannel(0x0c, 1), ChannelError, /secure messaging/);
    assert.throws(() => withChannel(0x60, 1), ChannelError, /secure messaging/);
  });

  it("reads the channel and class back from a CLA", () => {
    for (let n = 0; n <= 19; n++) {
      assert.equal(channelOfClassByte(classByteForChannel(n, true)), n);
      assert.equal(channelOfClassByte(classByteForChannel(n, false)), n);
    }
    assert.ok(isProprietaryClass(0x81));
    assert.ok(isProprietaryClass(0xc3));
    assert.ok(!isProprietaryClass(0x01));
  });
});
