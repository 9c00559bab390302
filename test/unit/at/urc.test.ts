import * as assert from "../../lib/portable/assert.js";
import { rig } from "./fake-modem.js";

describe("AT engine: URCs", () => {
  it("dispatches a URC between commands to its prefix handler", async () => {
    const { at, modem, platform } = rig();
    const cereg: string[] = [];
    const qiurc: string[] = [];
    at.onUrc("+CEREG:", (line) => cereg.push(line));
    at.onUrc("+QIURC:", (line) => qiurc.push(line));
    modem.reply('\r\n+CEREG: 5\r\n\r\n+QIURC: "recv",0\r\n');
    await platform.settle();
    assert.deepEqual(cereg, ["+CEREG: 5"]);
    assert.deepEqual(qiurc, ['+QIURC: "recv",0']);
    assert.equal(at.counters.urcs, 2);
  });

  it("dispatches a URC arriving in the middle of a response and keeps it out of the lines", async () => {
    const { at } = rig((_c, m) => m.reply('\r\n+CSQ: 20,99\r\n\r\n+QIURC: "recv",0\r\n\r\nOK\r\n'));
    const seen: string[] = [];
    at.onUrc("+QIURC:", (line) => seen.push(line));
    const withPrefix = await at.send("AT+CSQ", { prefix: "+CSQ:" });
    assert.deepEqual(withPrefix.lines, ["+CSQ: 20,99"]);
    const withoutPrefix = await at.send("AT+CSQ");
    assert.deepEqual(withoutPrefix.lines, ["+CSQ: 20,99"], "a URC is not an info line even without a prefix");
    assert.deepEqual(seen, ['+QIURC: "recv",0', '+QIURC: "recv",0']);
  });

  it("gives a line with the pending command's prefix to the command, not to the URC handler", async () => {
    const { at, modem, platform } = rig((_c, m) => m.reply("\r\n+CEREG: 2,1\r\n\r\nOK\r\n"));
    const urcs: string[] = [];
    at.onUrc("+CEREG:", (line) => urcs.push(line));
    const response = await at.send("AT+CEREG?", { prefix: "+CEREG:" });
    assert.deepEqual(response.lines, ["+CEREG: 2,1"]);
    assert.deepEqual(urcs, []);
    modem.reply("\r\n+CEREG: 5\r\n");
    await platform.settle();
    assert.deepEqual(urcs, ["+CEREG: 5"], "the same prefix is a URC when no such command is pending");
  });

  it("survives a URC handler that throws, and still calls the other handlers", async () => {
    const { at, modem, platform } = rig((_c, m) => m.reply("\r\n+CREG: 1\r\n\r\nOK\r\n"));
    const seen: string[] = [];
    at.onUrc("+CREG:", () => {
      throw new Error("handler bug");
    });
    at.onUrc("+CREG:", (line) => seen.push(line));
    modem.reply("\r\n+CREG: 1\r\n");
    await platform.settle();
    const response = await at.send("AT+CSQ", { prefix: "+CSQ:" });
    assert.equal(response.final, "OK");
    assert.deepEqual(seen, ["+CREG: 1", "+CREG: 1"]);
    assert.ok(platform.logs.some((l) => l.level === "warn" && /handler bug/.test(l.message)));
  });

  it("stops calling a handler after unsubscribing", async () => {
    const { at, modem, platform } = rig();
    const seen: string[] = [];
    const off = at.onUrc("+CEREG:", (line) => seen.push(line));
    modem.reply("\r\n+CEREG: 1\r\n");
    await platform.settle();
    off();
    off();
    modem.reply("\r\n+CEREG: 2\r\n");
    await platform.settle();
    assert.deepEqual(seen, ["+CEREG: 1"]);
  });

  it("lets a URC handler send a command without it seeing the rest of the chunk that carried the URC", async () => {
    const { at, modem, platform } = rig((command, m) => {
      if (command === "AT+QIRD=0,0") m.reply("\r\n+QIRD: 10,10,0\r\n\r\nOK\r\n");
    });
    const results: string[][] = [];
    at.onUrc("+QIURC:", () => {
      void at.send("AT+QIRD=0,0", { prefix: "+QIRD:" }).then((r) => results.push(r.lines));
    });
    // A stale OK follows the URC in the same chunk: it must not complete the new command.
    modem.reply('\r\n+QIURC: "recv",0\r\n\r\nOK\r\n');
    await platform.settle();
    assert.deepEqual(results, [["+QIRD: 10,10,0"]]);
    assert.deepEqual(modem.commands, ["AT+QIRD=0,0"]);
  });

  it("drops unknown lines while idle", async () => {
    const { at, modem, platform } = rig((_c, m) => m.reply("\r\nOK\r\n"));
    modem.reply("\r\nsomething unexpected\r\n");
    await platform.settle();
    const response = await at.send("AT");
    assert.deepEqual(response.lines, []);
  });
});
