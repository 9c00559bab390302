// The link model on a virtual clock: UART pacing, command / SIM / network latency, and every
// injected fault, measured exactly with a ManualPlatform, an in-memory link and an in-memory TCP stack.
import assert from "node:assert/strict";
import { asciiToBytes, bytesToAscii } from "../../modules/bytes/bytes.js";
import { memoryLinkPair, type MemoryLink } from "../../modules/platform/memory-link.js";
import { ManualPlatform } from "../lib/portable/manual-platform.js";
import {
  attachVirtualModem,
  LinkModelError,
  linkModelOf,
  type LinkModelOptions,
  type ModemSetupOptions,
  parseFaultSpec,
  type VirtualConnection,
  type VirtualModem,
  type VirtualTcpStack,
} from "../../hosts/sim/modem/index.js";

/** An in-memory peer: what the modem writes lands in `sent`; `deliver` plays the network. */
class FakeConnection implements VirtualConnection {
  onData: (() => void) | undefined;
  onPeerClose: (() => void) | undefined;
  readonly remoteAddress = "127.0.0.1";
  readonly remotePort = 9;
  readonly localPort = 40000;
  readonly sent: number[] = [];
  #buffer: number[] = [];
  #peerClosed = false;
  closed = false;
  get available(): number {
    return this.#buffer.length;
  }
  get unsent(): number {
    return 0;
  }
  get bytesSent(): number {
    return this.sent.length;
  }
  get bytesReceived(): number {
    return 0;
  }
  get peerClosed(): boolean {
    return this.#peerClosed;
  }
  read(max: number): Uint8Array {
    return Uint8Array.from(this.#buffer.splice(0, max));
  }
  write(bytes: Uint8Array): void {
    this.sent.push(...bytes);
  }
  close(): void {
    this.closed = true;
  }
  deliver(text: string): void {
    this.#buffer.push(...asciiToBytes(text));
    this.onData?.();
  }
  end(): void {
    this.#peerClosed = true;
    this.onPeerClose?.();
  }
}

interface Bench {
  platform: ManualPlatform;
  modem: VirtualModem;
  host: MemoryLink;
  connections: FakeConnection[];
  /** Everything the modem wrote since the last call. */
  output(): string;
  send(text: string): void;
}

function bench(link: LinkModelOptions, options: ModemSetupOptions = {}): Bench {
  const platform = new ManualPlatform();
  const [host, modemEnd] = memoryLinkPair();
  const connections: FakeConnection[] = [];
  const tcp: VirtualTcpStack = {
    connect: async () => {
      const connection = new FakeConnection();
      connections.push(connection);
      return connection;
    },
  };
  const { modem } = attachVirtualModem(modemEnd, { platform, link, tcp, registrationDelayMs: 10, ...options });
  return {
    platform,
    modem,
    host,
    connections,
    output() {
      const bytes = host.read();
      return bytes ? bytesToAscii(bytes) : "";
    },
    send(text) {
      host.write(asciiToBytes(text));
    },
  };
}

async function at(b: Bench, ms: number): Promise<void> {
  await b.platform.advance(ms);
}

describe("link model on a virtual clock", function () {
  it("paces both directions at the baud rate: 10 bit times per byte", async function () {
    const b = bench({ baud: 9600 });
    b.send("ATE0\r"); // 5 bytes in: 5.2 ms; "ATE0\r" echo + CR LF OK CR LF out: 11 bytes, 11.5 ms
    await at(b, 5);
    assert.equal(b.output(), "", "the command has not crossed the wire yet");
    await at(b, 16);
    assert.equal(b.output(), "ATE0\r\r\nOK\r\n");
    const answerBytes = "\r\n+CGMR: x\r\n".length;
    b.send("AT+CGMI;+CGMM;+CGMR;+CGMI;+CGMM;+CGMR\r");
    await at(b, 1000);
    const answer = b.output();
    assert.ok(answer.length > answerBytes);
    const b2 = bench({ baud: 2400 });
    b2.send("ATE0\r");
    await at(b2, 100); // 5 bytes in, 11 out: 67 ms
    assert.equal(b2.output(), "ATE0\r\r\nOK\r\n");
    b2.send("AT+CGMI;+CGMM;+CGMR;+CGMI;+CGMM;+CGMR\r");
    // At 2400 baud, the 38-byte command takes 158 ms and the answer (same length as above) 4.17 ms a byte.
    const expected = 158 + answer.length * (10000 / 2400);
    await at(b2, Math.floor(expected) - 20);
    const early = b2.output();
    assert.ok(early.length < answer.length && early.length > answer.length / 2, `${early.length} of ${answer.length} bytes 20 ms before the wire time`);
    await at(b2, 40);
    assert.equal(early + b2.output(), answer);
  });

  it("delays each command by commandLatencyMs and each APDU by simLatencyMs", async function () {
    const b = bench({ commandLatencyMs: 100, simLatencyMs: 250 });
    b.send("ATE0\r");
    await at(b, 99);
    assert.equal(b.output(), "ATE0\r");
    await at(b, 1);
    assert.equal(b.output(), "\r\nOK\r\n");
    b.send('AT+CSIM=10,"0070000001"\r');
    await at(b, 349);
    assert.equal(b.output(), "");
    await at(b, 1);
    assert.equal(b.output(), '\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
  });

  it("delays connects and deliveries by networkLatencyMs (quectel-bg95)", async function () {
    const b = bench({ networkLatencyMs: 200 }, { dialect: "quectel-bg95" });
    b.send("ATE0\r");
    await at(b, 20); // registered
    b.send("AT+QIACT=1\r");
    await at(b, 1);
    b.output();
    b.send('AT+QIOPEN=1,0,"TCP","127.0.0.1",9,0,0\r');
    await at(b, 199);
    assert.equal(b.output(), "\r\nOK\r\n");
    await at(b, 1);
    assert.equal(b.output(), "\r\n+QIOPEN: 0,0\r\n");
    b.connections[0]!.deliver("hi");
    await at(b, 199);
    assert.equal(b.output(), "");
    await at(b, 1);
    assert.equal(b.output(), '\r\n+QIURC: "recv",0\r\n');
  });

  it("socket-closed and network-lost faults make the dialect report them (quectel-bg95)", async function () {
    const b = bench({}, { dialect: "quectel-bg95" });
    b.send("ATE0\r");
    await at(b, 20);
    b.send("AT+QIACT=1\r");
    await at(b, 1);
    b.send('AT+QIOPEN=1,3,"TCP","127.0.0.1",9,0,0\r');
    await at(b, 1);
    b.output();
    const model = linkModelOf(b.modem)!;
    model.inject("socket-closed");
    await at(b, 1);
    assert.equal(b.output(), '\r\n+QIURC: "closed",3\r\n');
    assert.equal(model.stats.socketsClosed, 1);
    model.inject({ kind: "network-lost" });
    await at(b, 1);
    assert.equal(b.output(), '\r\n+QIURC: "pdpdeact",1\r\n');
  });

  it("cme faults answer the chosen code on the chosen command, `after` skips matches, `count` repeats", async function () {
    const b = bench({ faults: ["cme:on=+CSQ,code=30,after=2,count=2"] });
    b.send("ATE0;+CMEE=1\r");
    await at(b, 20); // registered
    b.output();
    for (const expected of ["+CSQ: 20,99", "+CME ERROR: 30", "+CME ERROR: 30", "+CSQ: 20,99"]) {
      b.send("AT+CSQ\r");
      await at(b, 1);
      assert.ok(b.output().includes(expected), expected);
    }
  });

  it("sim-busy answers +CME ERROR: 14 to SIM commands only", async function () {
    const b = bench({});
    b.send("ATE0;+CMEE=1\r");
    await at(b, 1);
    b.output();
    linkModelOf(b.modem)!.inject("sim-busy:count=1");
    b.send("AT+CSQ\r");
    await at(b, 1);
    assert.ok(b.output().includes("+CSQ:"));
    b.send('AT+CSIM=10,"0070000001"\r');
    await at(b, 1);
    assert.equal(b.output(), "\r\n+CME ERROR: 14\r\n");
    b.send('AT+CSIM=10,"0070000001"\r');
    await at(b, 1);
    assert.ok(b.output().startsWith("\r\n+CSIM:"));
  });

  it("drops bytes from the answer of a command, or at a seeded random rate", async function () {
    const b = bench({ faults: ["drop:on=+CGMI,offset=2,bytes=3"] });
    b.send("ATE0\r");
    await at(b, 1);
    b.output();
    b.send("AT+CGMI\r");
    await at(b, 1);
    assert.equal(b.output(), "\r\nsafe-xs\r\n\r\nOK\r\n", "the first 3 bytes of the manufacturer (iotsafe-xs) are gone");
    const counts = [1, 1].map(() => {
      const r = bench({ faults: ["drop:rate=0.1"], seed: 7 });
      r.send("ATE0\r");
      return r;
    });
    await at(counts[0]!, 5);
    await at(counts[1]!, 5);
    const stats = counts.map((r) => linkModelOf(r.modem)!.stats.droppedBytes);
    assert.equal(stats[0], stats[1], "the same seed drops the same bytes");
  });

  it("reset: deaf and mute for bootTimeMs, sockets gone at once, then boot URCs (quectel-bg95)", async function () {
    const b = bench({ bootTimeMs: 500 }, { dialect: "quectel-bg95" });
    b.send("ATE0\r");
    await at(b, 20);
    b.send("AT+QIACT=1\r");
    await at(b, 1);
    b.send('AT+QIOPEN=1,0,"TCP","127.0.0.1",9,0,0\r');
    await at(b, 1);
    b.output();
    linkModelOf(b.modem)!.inject("reset");
    assert.ok(b.connections[0]!.closed, "the connection dropped with the reset");
    b.send("AT\r");
    await at(b, 499);
    assert.equal(b.output(), "", "nothing while booting");
    await at(b, 1);
    assert.equal(b.output(), "\r\nRDY\r\n\r\nAPP RDY\r\n");
    b.send("AT\r");
    await at(b, 1);
    assert.equal(b.output(), "AT\r\r\nOK\r\n", "echo is on again after the reset");
  });

  it("hang: silent until resetModem() (the board's reset pin)", async function () {
    const b = bench({ bootTimeMs: 100 }, { dialect: "sequans-gm02s" });
    const model = linkModelOf(b.modem)!;
    model.inject("hang");
    b.send("AT\r");
    await at(b, 10000);
    assert.equal(b.output(), "");
    model.resetModem();
    await at(b, 100);
    assert.equal(b.output(), "\r\n+SYSSTART\r\n");
  });

  it("fires timed faults at `at` and again `every`", async function () {
    const b = bench({ bootTimeMs: 10, faults: ["reset:at=1000,every=1000,count=2"] }, { dialect: "sequans-gm02s" });
    await at(b, 999);
    assert.equal(b.output(), "");
    await at(b, 11);
    assert.equal(b.output(), "\r\n+SYSSTART\r\n");
    await at(b, 1000);
    assert.equal(b.output(), "\r\n+SYSSTART\r\n");
    await at(b, 5000);
    assert.equal(b.output(), "", "count=2");
  });

  it("parses CLI fault specs and refuses malformed ones with a reason", function () {
    assert.deepEqual(parseFaultSpec("drop:on=+QIRD,bytes=3"), { kind: "drop", on: "+QIRD", bytes: 3 });
    assert.deepEqual(parseFaultSpec("reset"), { kind: "reset" });
    assert.throws(() => parseFaultSpec("melt"), LinkModelError);
    assert.throws(() => parseFaultSpec("cme:code"), /key=value/);
    assert.throws(() => parseFaultSpec("cme:volume=3"), /unknown fault option/);
    assert.throws(() => parseFaultSpec("drop:rate=2"), /probability/);
    assert.throws(() => parseFaultSpec("cme:code=-1"), /non-negative/);
  });
});
