import { AtAbandonedError, AtClosedError, AtCommandError, AtLineTooLongError, AtQueueFullError, AtResponseTooLongError, AtResyncError, AtTimeoutError } from "../../../modules/at/errors.js";
import * as assert from "../../lib/portable/assert.js";
import { latin1, rig, watch } from "./fake-modem.js";

describe("AT engine: queue, timeouts and resynchronisation", () => {
  it("sends the second command only after the first completes", async () => {
    const { at, modem, platform } = rig();
    const first = watch(at.send("AT+A"));
    const second = watch(at.send("AT+B", { prefix: "+B:" }));
    await platform.settle();
    assert.deepEqual(modem.commands, ["AT+A"]);
    await platform.advance(1000);
    assert.deepEqual(modem.commands, ["AT+A"], "still one command outstanding");
    modem.reply("\r\nOK\r\n");
    await platform.settle();
    assert.equal(first.value?.final, "OK");
    assert.deepEqual(modem.commands, ["AT+A", "AT+B"]);
    assert.ok(!second.settled);
    modem.reply("\r\n+B: 1\r\n\r\nOK\r\n");
    await platform.settle();
    assert.deepEqual(second.value?.lines, ["+B: 1"]);
  });

  it("times out, resynchronises with AT/OK, then runs the next command", async () => {
    const { at, modem, platform } = rig((command, m) => {
      if (command === "AT" || command === "AT+NEXT") m.reply("\r\nOK\r\n");
    });
    const slow = watch(at.send("AT+SLOW", { timeoutMs: 2000 }));
    const next = watch(at.send("AT+NEXT"));
    await platform.advance(1999);
    assert.ok(!slow.settled, "not before its timeout");
    await platform.advance(1);
    assert.ok(slow.error instanceof AtTimeoutError, String(slow.error));
    assert.match((slow.error as Error).message, /^AT\+SLOW: no final result code within 2000 ms$/);
    assert.deepEqual(modem.commands, ["AT+SLOW", "AT"], "resync runs before the next command");
    await platform.advance(1000);
    assert.deepEqual(modem.commands, ["AT+SLOW", "AT", "AT+NEXT"]);
    assert.equal(next.value?.final, "OK");
    const counters = at.counters;
    assert.equal(counters.timeouts, 1);
    assert.equal(counters.resyncs, 1);
    assert.equal(counters.commandsSent, 3);
  });

  it("abandons the command in flight on request (a rebooted modem): rejected at once, the queue runs after a resync", async () => {
    const { at, modem, platform } = rig((command, m) => {
      if (command === "AT" || command === "AT+NEXT") m.reply("\r\nOK\r\n");
    });
    const lost = watch(at.send("AT+QIRD=0,1500", { timeoutMs: 10000 }));
    const next = watch(at.send("AT+NEXT"));
    await platform.settle();
    assert.equal(at.abandonPending("the modem rebooted"), true);
    await platform.settle();
    assert.ok(lost.error instanceof AtAbandonedError, String(lost.error));
    assert.match((lost.error as Error).message, /^AT\+QIRD=0,1500: abandoned: the modem rebooted$/);
    await platform.advance(1000);
    assert.deepEqual(modem.commands, ["AT+QIRD=0,1500", "AT", "AT+NEXT"], "resync, then the queued command");
    assert.equal(next.value?.final, "OK");
    assert.equal(at.abandonPending("nothing in flight"), false);
    assert.equal(at.counters.timeouts, 0);
  });

  it("does not attribute late output of a timed-out command to the next command", async () => {
    const { at, modem, platform } = rig((command, m) => {
      if (command === "AT") {
        // The slow command's answer finally comes out, then the OK for the resync AT, 20 ms later.
        m.reply("\r\n+SLOW: 1\r\n\r\nOK\r\n");
        platform.setTimer(() => m.reply("\r\nOK\r\n"), 20);
      }
      // Answered after the modem has finished with the AT: a modem handles one line at a time.
      if (command === "AT+NEXT") platform.setTimer(() => m.reply("\r\nERROR\r\n"), 30);
    });
    const slow = watch(at.send("AT+SLOW"));
    const next = watch(at.send("AT+NEXT"));
    await platform.advance(5000);
    assert.ok(slow.error instanceof AtTimeoutError);
    await platform.advance(2000);
    assert.ok(next.error instanceof AtCommandError, `AT+NEXT must see its own ERROR, got ${String(next.value?.final ?? next.error)}`);
    assert.deepEqual(modem.commands, ["AT+SLOW", "AT", "AT+NEXT"]);
  });

  it("keeps sending AT until OK, within the attempt bound", async () => {
    let answered = 0;
    const { at, modem, platform } = rig((command, m) => {
      if (command === "AT" && ++answered >= 3) m.reply("AT\r\r\nOK\r\n");
    });
    const synced = watch(at.resync());
    await platform.advance(5000);
    assert.ok(synced.settled && synced.error === undefined, String(synced.error));
    assert.deepEqual(modem.commands, ["AT", "AT", "AT"]);
  });

  it("rejects waiting commands with AtResyncError when the modem never answers, and tries again on the next send", async () => {
    let alive = false;
    const { at, modem, platform } = rig(
      (command, m) => {
        if (alive) m.reply("\r\nOK\r\n");
        void command;
      },
      { resyncAttempts: 3, resyncTimeoutMs: 500 },
    );
    const first = watch(at.send("AT+A", { timeoutMs: 1000 }));
    const queued = watch(at.send("AT+B"));
    await platform.advance(1000);
    assert.ok(first.error instanceof AtTimeoutError);
    await platform.advance(3000);
    assert.ok(queued.error instanceof AtResyncError, String(queued.error));
    assert.match((queued.error as Error).message, /^AT\+B: .*3 attempts/);
    assert.deepEqual(modem.commands, ["AT+A", "AT", "AT", "AT"]);
    assert.equal(at.counters.resyncFailures, 1);
    await platform.advance(10_000);
    assert.equal(modem.commands.length, 4, "no endless retrying while nobody waits");

    alive = true;
    const later = watch(at.send("AT+C"));
    await platform.advance(1000);
    assert.equal(later.value?.final, "OK");
    assert.deepEqual(modem.commands.slice(4), ["AT", "AT+C"]);
    assert.equal(at.counters.resyncs, 2);
  });

  it("rejects resync() with AtResyncError when the modem stays silent", async () => {
    const { at, platform } = rig(undefined, { resyncAttempts: 2, resyncTimeoutMs: 100 });
    const synced = watch(at.resync());
    await platform.advance(1000);
    assert.ok(synced.error instanceof AtResyncError);
  });

  it("refuses more than maxQueueLength waiting commands", async () => {
    const { at, platform } = rig(undefined, { maxQueueLength: 2 });
    const pending = [watch(at.send("AT+A")), watch(at.send("AT+B"))];
    await platform.settle();
    pending.push(watch(at.send("AT+C")), watch(at.send("AT+D")));
    await platform.settle();
    assert.ok(pending[3]!.error instanceof AtQueueFullError, String(pending[3]!.error));
    assert.ok(!pending[2]!.settled);
  });
});

describe("AT engine: hostile input", () => {
  it("ignores garbage bytes while idle and then works", async () => {
    const { at, modem, platform } = rig((_c, m) => m.reply("\r\n+CSQ: 9,99\r\n\r\nOK\r\n"));
    modem.reply("\x00\xff\xfe\x80\x1b[garbage\r\r\n\n\r\x00\xff");
    await platform.settle();
    const response = await at.send("AT+CSQ", { prefix: "+CSQ:" });
    assert.deepEqual(response.lines, ["+CSQ: 9,99"]);
  });

  it("drops NUL and 0xFF noise inside lines and keeps other bytes as Latin-1", async () => {
    const { at } = rig((_c, m) => m.reply("\r\n\xffcaf\xe9\x00\r\n\r\nO\x00K\r\n"));
    const response = await at.send("AT+COPS?");
    assert.deepEqual(response.lines, ["caf\xe9"]);
    assert.equal(response.final, "OK");
  });

  it("fails the pending command on an over-long line, then stays usable", async () => {
    const { at } = rig(
      (command, m) => {
        if (command === "AT+LONG") m.reply(`\r\n${"A".repeat(200)}\r\n\r\nOK\r\n`);
        if (command === "AT+SHORT") m.reply("\r\nfine\r\n\r\nOK\r\n");
      },
      { maxLineLength: 64 },
    );
    await assert.rejects(at.send("AT+LONG"), AtLineTooLongError, /^AT\+LONG: response line longer than 64 bytes$/);
    const response = await at.send("AT+SHORT");
    assert.deepEqual(response.lines, ["fine"]);
    assert.equal(at.counters.overlongLines, 1);
  });

  it("discards an over-long line while idle without growing its buffers", async () => {
    const { at, modem, platform } = rig((_c, m) => m.reply("\r\nOK\r\n"), { maxLineLength: 64 });
    for (let i = 0; i < 50; i++) {
      modem.reply("B".repeat(100));
      await platform.settle();
      assert.ok(at.bufferedBytes <= 64, `holds ${at.bufferedBytes} bytes`);
    }
    modem.reply("\r\n");
    await platform.settle();
    assert.equal(at.bufferedBytes, 0);
    assert.equal((await at.send("AT")).final, "OK");
  });

  it("fails a command whose response exceeds maxResponseLength", async () => {
    const { at } = rig((_c, m) => m.reply(`${"\r\n+CLAC: AT+XXXXXXXXXX".repeat(40)}\r\nOK\r\n`), { maxResponseLength: 256 });
    await assert.rejects(at.send("AT+CLAC"), AtResponseTooLongError);
  });
});

describe("AT engine: closing", () => {
  it("rejects the pending and queued commands when the link closes, and later sends", async () => {
    const { at, modem, platform } = rig();
    const pending = watch(at.send("AT+A"));
    const queued = watch(at.send("AT+B"));
    await platform.settle();
    modem.link.close();
    await platform.settle();
    assert.ok(pending.error instanceof AtClosedError, String(pending.error));
    assert.match((pending.error as Error).message, /^AT\+A: AT link closed/);
    assert.ok(queued.error instanceof AtClosedError);
    assert.ok(at.isClosed);
    await assert.rejects(at.send("AT+C"), AtClosedError);
    assert.equal(platform.pendingTimers, 0, "no timer left behind");
  });

  it("reports the link's error when the link fails", async () => {
    const { at, modem, platform } = rig();
    const pending = watch(at.send("AT+A"));
    await platform.settle();
    modem.link.fail(new Error("UART reset"));
    await platform.settle();
    assert.match((pending.error as Error).message, /UART reset/);
  });

  it("close() rejects waiting commands and closes the link", async () => {
    const { at, link, platform } = rig();
    const pending = watch(at.send("AT+A"));
    const synced = watch(at.resync());
    await platform.settle();
    at.close();
    await platform.settle();
    assert.ok(pending.error instanceof AtClosedError);
    assert.ok(synced.error instanceof AtClosedError);
    assert.ok(link.closed);
  });
});

describe("AT engine: counters", () => {
  it("counts commands, bytes in and out, URCs, timeouts and resyncs", async () => {
    const response = "\r\n+CSQ: 9,99\r\n\r\nOK\r\n";
    const urc = "\r\n+CEREG: 1\r\n";
    const { at, modem, platform } = rig((command, m) => {
      if (command === "AT+CSQ") m.reply(response);
      if (command === "AT") m.reply("\r\nOK\r\n");
    });
    at.onUrc("+CEREG:", () => {});
    await at.send("AT+CSQ", { prefix: "+CSQ:" });
    modem.reply(urc);
    await platform.settle();
    let counters = at.counters;
    assert.equal(counters.commandsSent, 1);
    assert.equal(counters.bytesOut, "AT+CSQ\r".length);
    assert.equal(counters.bytesIn, response.length + urc.length);
    assert.equal(counters.urcs, 1);

    const data = latin1("abc");
    modem.script = (command, m) => {
      if (command === "AT+QISEND=0,3") m.expectRaw(3, () => m.reply("\r\nSEND OK\r\n"));
      if (command === "AT+QISEND=0,3") m.reply("> ");
      if (command === "AT") m.reply("\r\nOK\r\n");
    };
    await at.send("AT+QISEND=0,3", { payload: { data }, finalResults: ["SEND OK"] });
    counters = at.counters;
    assert.equal(counters.commandsSent, 2);
    assert.equal(counters.bytesOut, "AT+CSQ\r".length + "AT+QISEND=0,3\r".length + 3);

    const timedOut = watch(at.send("AT+NOANSWER", { timeoutMs: 100 }));
    await platform.advance(100);
    assert.ok(timedOut.error instanceof AtTimeoutError);
    await platform.advance(500);
    counters = at.counters;
    assert.equal(counters.timeouts, 1);
    assert.equal(counters.resyncs, 1);
    assert.equal(counters.commandsSent, 4, "AT+NOANSWER and the resync AT");
    at.resetCounters();
    assert.equal(at.counters.bytesIn, 0);
  });
});
