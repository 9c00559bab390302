import { StatusWord } from "../../../modules/sim/status.js";
import * as assert from "../../lib/portable/assert.js";

describe("sim/status: status words", () => {
  it("exposes SW1, SW2, the 16-bit value and upper-case hex", () => {
    const sw = new StatusWord(0x6a, 0x82);
    assert.equal(sw.sw1, 0x6a);
    assert.equal(sw.sw2, 0x82);
    assert.equal(sw.value, 0x6a82);
    assert.equal(sw.hex, "6A82");
    assert.equal(StatusWord.of(0x6d00).hex, "6D00");
  });

  it("counts 9000 and 91xx (proactive command pending) as success, nothing else", () => {
    assert.ok(StatusWord.of(0x9000).isSuccess);
    const proactive = StatusWord.of(0x9110);
    assert.ok(proactive.isSuccess);
    assert.ok(proactive.proactiveCommandPending);
    for (const value of [0x6300, 0x6143, 0x6a82, 0x6d00, 0x6e00, 0x6f00, 0x9200]) assert.ok(!StatusWord.of(value).isSuccess, value.toString(16));
  });

  it("reads 61xx and 9Fxx as bytes waiting (00 = 256) and 6Cxx as the exact Le", () => {
    assert.equal(StatusWord.of(0x6143).responseBytesAvailable, 0x43);
    assert.equal(StatusWord.of(0x6100).responseBytesAvailable, 256);
    assert.equal(StatusWord.of(0x9f10).responseBytesAvailable, 0x10);
    assert.equal(StatusWord.of(0x9000).responseBytesAvailable, undefined);
    assert.equal(StatusWord.of(0x6c40).correctLe, 0x40);
    assert.equal(StatusWord.of(0x6c00).correctLe, 256);
    assert.equal(StatusWord.of(0x6a82).correctLe, undefined);
  });

  it("gives the IoT SAFE meanings of iotsafe.md §4", () => {
    const expected: [number, RegExp][] = [
      [0x6300, /more data/],
      [0x63cf, /remote-admin/],
      [0x6400, /integrity/],
      [0x6700, /wrong length/],
      [0x6981, /file structure/],
      [0x6984, /invalidated/],
      [0x6985, /conditions of use not satisfied/],
      [0x6989, /remote admin/],
      [0x6a80, /incorrect data/],
      [0x6a82, /not found/],
      [0x6a84, /insufficient memory/],
      [0x6a86, /incorrect P1\/P2/],
      [0x6d00, /invalid instruction/],
      [0x6d01, /signature does not match/],
      [0x6e00, /invalid class/],
      [0x6f00, /unknown error/],
    ];
    for (const [value, meaning] of expected) assert.match(StatusWord.of(value).meaning, meaning);
    assert.match(StatusWord.of(0x6c40).meaning, /64/);
    assert.match(StatusWord.of(0x6a82).toString(), /^6A82 \(/);
  });

  it("marks 62xx/63xx as warnings", () => {
    assert.ok(StatusWord.of(0x6282).isWarning);
    assert.ok(StatusWord.of(0x63cf).isWarning);
    assert.ok(!StatusWord.of(0x6a82).isWarning);
  });
});
