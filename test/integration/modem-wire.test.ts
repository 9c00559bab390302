// The virtual modem over a real TCP socket, checked byte for byte against the framing in
// modems.md §1 (V.250 line discipline, 27.007 CSIM/CCHO/CGLA/CCHC formats, CME errors, URCs).
import assert from "node:assert/strict";
import { toHex } from "../../modules/bytes/bytes.js";
import type { Card } from "../../hosts/sim/card/card.js";
import { MinimalCard } from "../../hosts/sim/card/minimal-card.js";
import { type RunningVirtualModem, startVirtualModem, type StartVirtualModemOptions } from "../../hosts/sim/modem/index.js";
import { RawModemClient } from "./modem-test-client.js";

/** Wraps a card and records every APDU exchange, so tests can see what reached the card. */
class RecordingCard implements Card {
  readonly exchanges: { apdu: string; response: string }[] = [];
  constructor(readonly inner: Card = new MinimalCard()) {}
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const response = await this.inner.transmit(apdu);
    this.exchanges.push({ apdu: toHex(apdu), response: toHex(response) });
    return response;
  }
}

/** How long the tests listen for output that must not come. */
const SILENCE_MS = 150;

describe("virtual modem on TCP (wire format)", function () {
  let running: RunningVirtualModem | undefined;
  let clients: RawModemClient[] = [];

  async function start(options: StartVirtualModemOptions = {}): Promise<RawModemClient> {
    running = await startVirtualModem({ listen: { host: "127.0.0.1", port: 0 }, ...options });
    assert.ok(running.port && running.port > 0);
    return connect();
  }
  async function connect(): Promise<RawModemClient> {
    const client = await RawModemClient.connect(running!.port!);
    clients.push(client);
    return client;
  }

  afterEach(async function () {
    for (const client of clients) client.close();
    clients = [];
    await running?.close();
    running = undefined;
  });

  it("answers the golden CSIM exchange with echo on, then stays silent", async function () {
    const client = await start();
    client.send('AT+CSIM=10,"0070000001"\r');
    // Echo of the command line (echo is on by default), then information line and final result code.
    assert.equal(await client.readUntil("\r\nOK\r\n"), 'AT+CSIM=10,"0070000001"\r\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
    assert.equal(await client.collectFor(SILENCE_MS), "");
  });

  it("ATE0 is echoed (echo was on), then commands are answered without echo", async function () {
    const client = await start();
    client.send("ATE0\r");
    assert.equal(await client.readUntil("OK\r\n"), "ATE0\r\r\nOK\r\n");
    client.send("AT\r");
    assert.equal(await client.readUntil("OK\r\n"), "\r\nOK\r\n");
    client.send("ATE1\r");
    assert.equal(await client.readUntil("OK\r\n"), "\r\nOK\r\n");
    client.send("AT\r");
    assert.equal(await client.readUntil("OK\r\n"), "AT\r\r\nOK\r\n");
    assert.equal(await client.collectFor(SILENCE_MS), "");
  });

  it("accepts commands ending in \\r\\n and answers each once", async function () {
    const client = await start();
    client.send('ATE0\r\nAT+CSIM=10,"0070000001"\r\n');
    assert.equal(await client.readUntil("OK\r\n"), "ATE0\r\r\nOK\r\n");
    assert.equal(await client.readUntil("OK\r\n"), '\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
    assert.equal(await client.collectFor(SILENCE_MS), "");
  });

  it("tolerates a space after '=' and lower-case 'at'", async function () {
    const client = await start();
    await client.command("ATE0");
    assert.equal(await client.command('AT+CSIM= 10,"0070000001"'), '\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
    assert.equal(await client.command("at+cgmi"), "\r\niotsafe-xs\r\n\r\nOK\r\n");
  });

  it("runs the IoT SAFE CSIM flow of modems.md §1.5 (open, SELECT, close)", async function () {
    const client = await start();
    await client.command("ATE0");
    assert.equal(await client.command('AT+CSIM=10,"0070000001"'), '\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
    assert.equal(await client.command('AT+CSIM=24,"01A4040007A0000005590010"'), '\r\n+CSIM: 4,"9000"\r\n\r\nOK\r\n');
    // An applet the card does not have: 6A82 (iotsafe.md §1.2).
    assert.equal(await client.command('AT+CSIM=24,"01A4040007A0000005590099"'), '\r\n+CSIM: 4,"6A82"\r\n\r\nOK\r\n');
    assert.equal(await client.command('AT+CSIM=10,"0070800100"'), '\r\n+CSIM: 4,"9000"\r\n\r\nOK\r\n');
  });

  it("refuses a CSIM whose length does not count its hex characters, per AT+CMEE", async function () {
    const client = await start();
    await client.command("ATE0");
    // 10 bytes = 20 hex characters, not 10: 27.007 §8.17 counts characters.
    assert.equal(await client.command('AT+CSIM=5,"0070000001"'), "\r\nERROR\r\n");
    assert.equal(await client.command("AT+CMEE=1"), "\r\nOK\r\n");
    assert.equal(await client.command('AT+CSIM=5,"0070000001"'), "\r\n+CME ERROR: 50\r\n");
    assert.equal(await client.command('AT+CSIM=9,"007000000"'), "\r\n+CME ERROR: 50\r\n", "odd number of hex digits");
    assert.equal(await client.command("AT+CMEE=2"), "\r\nOK\r\n");
    assert.equal(await client.command('AT+CSIM=5,"0070000001"'), "\r\n+CME ERROR: Incorrect parameters\r\n");
    assert.equal(await client.command("AT+CMEE?"), "\r\n+CMEE: 2\r\n\r\nOK\r\n");
  });

  it("answers unknown commands and malformed lines with plain ERROR even with CMEE=1", async function () {
    const client = await start();
    await client.command("ATE0");
    await client.command("AT+CMEE=1");
    assert.equal(await client.command("AT+NOSUCHCOMMAND"), "\r\nERROR\r\n");
    assert.equal(await client.command('AT+CSIM=10,"0070000001'), "\r\nERROR\r\n", "unterminated string");
    assert.equal(await client.command("AT+CSIM?"), "\r\nERROR\r\n", "CSIM has no read form");
    assert.equal(await client.command("AT"), "\r\nOK\r\n");
  });

  it("opens a logical channel with CCHO, patches the channel into CGLA's CLA, and closes it with CCHC", async function () {
    const card = new RecordingCard();
    const client = await start({ card });
    await client.command("ATE0");
    await client.command("AT+CMEE=1");
    const opened = await client.command('AT+CCHO="A0000005590010"');
    const sessionMatch = /^\r\n\+CCHO: (\d+)\r\n\r\nOK\r\n$/.exec(opened);
    assert.ok(sessionMatch, JSON.stringify(opened));
    const sessionId = Number(sessionMatch[1]);

    // The modem opened a channel with MANAGE CHANNEL, then selected the AID on it.
    assert.equal(card.exchanges[0]!.apdu, "0070000001");
    const channel = parseInt(card.exchanges[0]!.response.slice(0, 2), 16);
    assert.equal(channel, 1);
    assert.equal(card.exchanges[1]!.apdu.slice(0, 16), "01a40400" + "07" + "a00000", "SELECT by AID on channel 1");
    assert.equal(card.exchanges[1]!.response, "9000");
    // 27.007 §8.45: the session id is not the channel number (a client must not OR it into CLA).
    assert.notEqual(sessionId, channel);
    assert.ok(sessionId > 19, `session id ${sessionId} looks like a channel number`);

    // The TE sends CLA with the channel bits cleared; the card must see channel 1 in it.
    const answered = await client.command(`AT+CGLA=${sessionId},10,"80CA000000"`);
    assert.equal(answered, '\r\n+CGLA: 4,"6D00"\r\n\r\nOK\r\n');
    assert.equal(card.exchanges[2]!.apdu, "81ca000000");
    await client.command(`AT+CGLA=${sessionId},10,"00CA000000"`);
    assert.equal(card.exchanges[3]!.apdu, "01ca000000");

    assert.equal(await client.command(`AT+CCHC=${sessionId}`), "\r\nOK\r\n");
    assert.equal(card.exchanges[4]!.apdu, "0070800100");
    // The session is gone: 27.007 error "invalid index".
    assert.equal(await client.command(`AT+CGLA=${sessionId},10,"80CA000000"`), "\r\n+CME ERROR: 21\r\n");
    assert.equal(await client.command(`AT+CCHC=${sessionId}`), "\r\n+CME ERROR: 21\r\n");
  });

  it("codes channels 4..19 in the further interindustry class form (TS 102 221)", async function () {
    const card = new RecordingCard();
    const client = await start({ card });
    await client.command("ATE0");
    for (const expected of ["01", "02", "03"]) {
      assert.equal(await client.command('AT+CSIM=10,"0070000001"'), `\r\n+CSIM: 6,"${expected}9000"\r\n\r\nOK\r\n`);
    }
    const sessionId = Number(/\+CCHO: (\d+)/.exec(await client.command('AT+CCHO="A0000005590010"'))![1]);
    const channel = 4;
    assert.equal(card.exchanges[3]!.response, "049000");
    await client.command(`AT+CGLA=${sessionId},10,"80CA000000"`);
    await client.command(`AT+CGLA=${sessionId},10,"00CA000000"`);
    // modems.md §1.2: channels 4..19 use 40+(n-4) (interindustry) and C0+(n-4) (proprietary).
    const cgla = card.exchanges.slice(-2).map((e) => e.apdu.slice(0, 2));
    assert.deepEqual(cgla, [(0xc0 + channel - 4).toString(16), (0x40 + channel - 4).toString(16).padStart(2, "0")]);
  });

  it("reports CCHO for an absent applet as a CME error and leaves no channel open", async function () {
    const card = new MinimalCard();
    const client = await start({ card });
    await client.command("ATE0");
    await client.command("AT+CMEE=1");
    assert.match(await client.command('AT+CCHO="A0000005590099"'), /^\r\n\+CME ERROR: \d+\r\n$/);
    assert.deepEqual(card.openChannels, []);
  });

  it("emits +CEREG URCs when registration changes after CFUN=0 / CFUN=1", async function () {
    const network = { trackingAreaCode: "00C3", cellId: "0012ABCD" };
    const client = await start({ registrationDelayMs: 20, network });
    await client.command("ATE0");
    // Registered after power-on: wait for it before switching URCs on.
    for (let i = 0; i < 100; i++) {
      if ((await client.command("AT+CEREG?")).includes("+CEREG: 0,1")) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await client.command("AT+CEREG=1"), "\r\nOK\r\n");
    // Deregistering during the command: the URC follows the final result code.
    client.send("AT+CFUN=0\r");
    assert.equal(await client.readUntil("\r\n+CEREG: 0\r\n"), "\r\nOK\r\n\r\n+CEREG: 0\r\n");
    assert.equal(await client.command("AT+CFUN?"), "\r\n+CFUN: 0\r\n\r\nOK\r\n");
    client.send("AT+CFUN=1\r");
    // Searching (stat 2) at once, registered home (stat 1) after the delay.
    assert.equal(await client.readUntil("\r\n+CEREG: 1\r\n"), "\r\nOK\r\n\r\n+CEREG: 2\r\n\r\n+CEREG: 1\r\n");
    assert.equal(await client.command("AT+CEREG?"), "\r\n+CEREG: 1,1\r\n\r\nOK\r\n");
    await client.command("AT+CEREG=2");
    assert.equal(await client.command("AT+CEREG?"), `\r\n+CEREG: 2,1,"00C3","0012ABCD",7\r\n\r\nOK\r\n`);
    await client.command("AT+CFUN=4");
    assert.equal(await client.readUntil("\r\n+CEREG: 0\r\n"), "\r\n+CEREG: 0\r\n");
    assert.equal(await client.command("AT+CSQ"), "\r\n+CSQ: 99,99\r\n\r\nOK\r\n");
    assert.equal(await client.collectFor(SILENCE_MS), "");
  });

  it("discards an over-long line with ERROR and keeps working", async function () {
    const client = await start({ maxLineLength: 600 });
    client.send(`AT+CSIM=1000,"${"00".repeat(500)}"\r`);
    // Not echoed (the line was dropped), answered once.
    assert.equal(await client.readUntil("ERROR\r\n"), "\r\nERROR\r\n");
    client.send("AT\r");
    assert.equal(await client.readUntil("OK\r\n"), "AT\r\r\nOK\r\n");
    // Ordinary lines still work.
    const apdu = "00A4040007A0000005590010";
    const line = `AT+CSIM=${apdu.length},"${apdu}"`;
    assert.equal(await client.command(line), `${line}\r\r\n+CSIM: 4,"9000"\r\n\r\nOK\r\n`);
  });

  it("ignores line noise without an AT prefix and recovers after binary garbage", async function () {
    const client = await start();
    await client.command("ATE0");
    const garbage = new Uint8Array(4000);
    let seed = 42;
    for (let i = 0; i < garbage.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      garbage[i] = seed & 0xff;
    }
    client.send(garbage);
    client.send("\rAT+CGMR\r");
    const text = await client.readUntil("\r\nVM01.00\r\n\r\nOK\r\n");
    assert.ok(text.length > 0);
    assert.equal(await client.command("AT"), "\r\nOK\r\n");
    // A noise line alone gets no answer at all.
    client.send("hello\r");
    assert.equal(await client.collectFor(SILENCE_MS), "");
  });

  it("frames numeric results in ATV0 and drops them in ATQ1", async function () {
    const client = await start();
    // Each exchange must be exactly the expected bytes: nothing before them since the last one.
    const exchange = async (command: string, expected: string): Promise<void> => {
      client.send(command);
      assert.equal(await client.readUntil(expected), expected);
    };
    await exchange("ATV0\r", "ATV0\r0\r");
    await exchange("ATE0\r", "ATE0\r0\r");
    await exchange("AT+CGMI\r", "iotsafe-xs\r\n0\r");
    await exchange("AT+NOPE\r", "4\r");
    client.send("ATQ1V1\r");
    client.send("AT+CGMI\r");
    assert.equal(await client.readUntil("iotsafe-xs\r\n"), "\r\niotsafe-xs\r\n");
    assert.equal(await client.collectFor(SILENCE_MS), "");
  });

  it("runs several commands of one line and answers one final result code", async function () {
    const client = await start();
    assert.equal(await client.command("ATE0V1;+CMEE=1;+CGMI"), "ATE0V1;+CMEE=1;+CGMI\r\r\niotsafe-xs\r\n\r\nOK\r\n");
    // The first failing command ends the line.
    assert.equal(await client.command("AT+CGMI;+CSIM=1,\"00\";+CGMM"), '\r\niotsafe-xs\r\n\r\n+CME ERROR: 50\r\n');
  });

  it("reports identity: CGMI/CGMM/CGMR/CGSN/CIMI/CCID and its ICCID/QCCID variants", async function () {
    const card = new MinimalCard({ iccid: "89882280000012345678", imsi: "001019876543210" });
    const client = await start({ card, identity: { imei: "490154203237518" } });
    await client.command("ATE0");
    assert.equal(await client.command("AT+CGSN"), "\r\n490154203237518\r\n\r\nOK\r\n");
    assert.equal(await client.command("AT+CIMI"), "\r\n001019876543210\r\n\r\nOK\r\n");
    assert.equal(await client.command("AT+CCID"), "\r\n+CCID: 89882280000012345678\r\n\r\nOK\r\n");
    assert.equal(await client.command("AT+ICCID"), "\r\n+ICCID: 89882280000012345678\r\n\r\nOK\r\n");
    assert.equal(await client.command("AT+QCCID"), "\r\n+QCCID: 89882280000012345678\r\n\r\nOK\r\n");
    const ati = await client.command("ATI");
    assert.match(ati, /^\r\niotsafe-xs\r\n\r\nVirtual Modem\r\n\r\nRevision: VM01\.00\r\n\r\nOK\r\n$/);
  });

  it("locks SIM commands behind AT+CPIN when a PIN is set", async function () {
    const client = await start({ pin: "1234" });
    await client.command("ATE0");
    await client.command("AT+CMEE=1");
    assert.equal(await client.command("AT+CPIN?"), "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    assert.equal(await client.command('AT+CSIM=10,"0070000001"'), "\r\n+CME ERROR: 11\r\n");
    assert.equal(await client.command('AT+CPIN="0000"'), "\r\n+CME ERROR: 16\r\n");
    assert.equal(await client.command('AT+CPIN="1234"'), "\r\nOK\r\n");
    assert.equal(await client.command("AT+CPIN?"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert.equal(await client.command('AT+CSIM=10,"0070000001"'), '\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
  });

  it("answers AT+CCLK? from the host clock as yy/MM/dd,hh:mm:ss±zz", async function () {
    const client = await start({ timeZoneQuarterHours: 0 });
    await client.command("ATE0");
    const before = Date.now();
    const answer = await client.command("AT+CCLK?");
    const after = Date.now();
    const m = /^\r\n\+CCLK: "(\d\d)\/(\d\d)\/(\d\d),(\d\d):(\d\d):(\d\d)\+00"\r\n\r\nOK\r\n$/.exec(answer);
    assert.ok(m, JSON.stringify(answer));
    const [yy, mo, dd, hh, mi, ss] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    const reported = Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss);
    assert.ok(reported >= Math.floor(before / 1000) * 1000 && reported <= after, `${reported} not within [${before}, ${after}]`);
  });

  it("answers CGDCONT, COPS, CGATT in 27.007 format", async function () {
    const client = await start({ registrationDelayMs: 1, network: { operatorName: "Test Net" } });
    await client.command("ATE0");
    assert.equal(await client.command('AT+CGDCONT=1,"IP","iot.example"'), "\r\nOK\r\n");
    assert.equal(await client.command('AT+CGDCONT=2,"IPV4V6","second"'), "\r\nOK\r\n");
    assert.equal(await client.command("AT+CGDCONT?"), '\r\n+CGDCONT: 1,"IP","iot.example","0.0.0.0",0,0\r\n\r\n+CGDCONT: 2,"IPV4V6","second","0.0.0.0",0,0\r\n\r\nOK\r\n');
    for (let i = 0; i < 100 && !(await client.command("AT+CGATT?")).includes("+CGATT: 1"); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await client.command("AT+COPS?"), '\r\n+COPS: 0,0,"Test Net",7\r\n\r\nOK\r\n');
    assert.equal(await client.command("AT+COPS=2"), "\r\nOK\r\n");
    assert.equal(await client.command("AT+COPS?"), "\r\n+COPS: 2\r\n\r\nOK\r\n");
    assert.equal(await client.command("AT+CGATT?"), "\r\n+CGATT: 0\r\n\r\nOK\r\n");
  });

  it("gives each connection its own settings on one shared modem", async function () {
    const first = await start();
    const second = await connect();
    await first.command("ATE0");
    // The second port still echoes; the card (and its channels) is shared.
    assert.equal(await first.command('AT+CSIM=10,"0070000001"'), '\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
    assert.equal(await second.command('AT+CSIM=10,"0070000001"'), 'AT+CSIM=10,"0070000001"\r\r\n+CSIM: 6,"029000"\r\n\r\nOK\r\n');
  });

  it("restarts on AT+CFUN=1,1: OK first, then defaults (echo on) and SIM channels closed", async function () {
    const card = new MinimalCard();
    const client = await start({ card });
    await client.command("ATE0");
    await client.command('AT+CSIM=10,"0070000001"');
    assert.deepEqual(card.openChannels, [1]);
    assert.equal(await client.command("AT+CFUN=1,1"), "\r\nOK\r\n");
    assert.equal(await client.command("AT"), "AT\r\r\nOK\r\n");
    assert.deepEqual(card.openChannels, []);
  });
});
