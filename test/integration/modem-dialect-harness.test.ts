// The suite every dialect runs: the firmware driver (modules/modem) against the virtual modem of the
// same dialect over TCP, with real loopback sockets to a node:net echo server. This file only
// defines the suite; modem-dialect-<name>.test.ts files run it (plus their golden framing tests).
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { AtEngine, type AtEngineOptions, AtTimeoutError } from "../../modules/at/index.js";
import { AID } from "../../modules/iotsafe/constants.js";
import {
  ApnRejectedError,
  atEngineOptions,
  createModem,
  type Modem,
  type ModemDialectName,
  type ModemEvent,
  type ModemOptions,
  type ModemSocket,
  NoCoverageError,
  type SignalQuality,
  SimLockedError,
  SocketLostError,
  SocketReceiveError,
} from "../../modules/modem/index.js";
import type { ByteLink, Platform } from "../../modules/platform/platform.js";
import { createAtCardAccess } from "../../modules/sim/index.js";
import type { TlsTransport } from "../../modules/tls/transport.js";
import { connectTcpLink } from "../../hosts/node/links.js";
import { nodePlatform } from "../../hosts/node/platform.js";
import { RawModemClient } from "./modem-test-client.js";
import { DEFAULT_IDENTITY, type RunningVirtualModem, type StartVirtualModemOptions, startVirtualModem } from "../../hosts/sim/modem/index.js";

export interface DialectCase {
  dialect: ModemDialectName;
  /** What the virtual modem of this dialect reports for AT+CGMI. */
  manufacturer: string;
  /** The dialect's socket read command (for the dropped-bytes fault), e.g. "+QIRD". */
  readCommand: string;
  /** Whether the dialect activates a data context with the APN (AT+QIACT...), so a refused APN fails there. */
  activatesData: boolean;
  /** What signalQuality() reports against the virtual modem (default: AT+CSQ rssi 20). */
  signal?: SignalQuality;
}

/** Bytes a line-based parser would misread, every byte value, and enough to need several chunks. */
export function trickyPayload(length: number): Uint8Array {
  const text = '\r\nOK\r\n+QIURC: "recv",0\r\n+CADATAIND: 0\r\n+UUSORD: 0,12\r\n+SQNSRING: 1,5\r\n\r\nSEND OK\r\n> @+++ERROR\r\n';
  const out = new Uint8Array(length);
  let i = 0;
  for (; i < text.length; i++) out[i] = text.charCodeAt(i);
  for (let v = 0; v < 256; v++) out[i++] = v;
  let seed = 12345;
  for (; i < length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    out[i] = seed >>> 24;
  }
  return out;
}

/** A node:net server; `handle` decides what each accepted connection does. */
export async function tcpServer(handle: (socket: Socket) => void): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    server,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A server whose first accepted socket the test drives. */
export async function peerServer(): Promise<Awaited<ReturnType<typeof tcpServer>> & { accepted: Promise<Socket> }> {
  let resolvePeer!: (socket: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => (resolvePeer = resolve));
  const server = await tcpServer((socket) => resolvePeer(socket));
  return { ...server, accepted };
}

/** Sends `command` and expects exactly `answer` next (also when the answer holds fake result codes). */
export async function exchange(client: RawModemClient, command: string, answer: string, lineEnding = "\r"): Promise<void> {
  client.send(command + lineEnding);
  assert.equal(await client.readUntil(answer), answer, command);
}

export interface WireSession {
  /** The virtual modem, its raw client and the loopback peer of the current test (replaced before each test). */
  running: RunningVirtualModem;
  client: RawModemClient;
  peer: Awaited<ReturnType<typeof peerServer>>;
  /** `exchange` on the current client with the dialect's line ending. */
  exchange(command: string, answer: string): Promise<void>;
}

/**
 * For the byte-for-byte wire tests: registers beforeEach/afterEach in the calling describe that start
 * a virtual modem of `dialect`, connect a raw client and open a peer server, then run `prepare`
 * (e.g. ATE0) — and close all three afterwards.
 */
export function wireSession(dialect: ModemDialectName, options: { lineEnding?: string; prepare?: (client: RawModemClient) => Promise<void> } = {}): WireSession {
  const session = {
    exchange: (command: string, answer: string) => exchange(session.client, command, answer, options.lineEnding),
  } as WireSession;

  beforeEach(async function () {
    session.running = await startVirtualModem({ dialect, registrationDelayMs: 20 });
    session.client = await RawModemClient.connect(session.running.port!);
    session.peer = await peerServer();
    await options.prepare?.(session.client);
  });

  afterEach(async function () {
    session.client.close();
    await session.peer.close();
    await session.running.close();
  });

  return session;
}

export function echoServer(): ReturnType<typeof tcpServer> {
  return tcpServer((socket) => socket.pipe(socket));
}

/** Reads until `length` bytes arrived (or the stream ended). */
export async function readExactly(socket: ModemSocket, length: number, chunk = 1024): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const bytes = await socket.read(Math.min(chunk, length - filled));
    if (bytes === null) throw new Error(`stream ended after ${filled} of ${length} bytes`);
    out.set(bytes, filled);
    filled += bytes.length;
  }
  return out;
}

/** Resolves when `predicate` holds for an event, rejects after `ms`. */
export function nextEvent(modem: Modem, predicate: (event: ModemEvent) => boolean, ms = 15000): Promise<ModemEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching modem event within ${ms} ms`));
    }, ms);
    const off = modem.onEvent((event) => {
      if (!predicate(event)) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}

export interface Rig {
  running: RunningVirtualModem;
  link: ByteLink;
  at: AtEngine;
  modem: Modem;
  platform: Platform;
  close(): Promise<void>;
}

export async function rig(dialect: ModemDialectName, options: Partial<StartVirtualModemOptions> = {}, modemOptions: ModemOptions = {}, atOptions: AtEngineOptions = {}): Promise<Rig> {
  const platform = nodePlatform({ logLevel: (process.env.IOTSAFE_LOG as "debug" | undefined) ?? "error" });
  const running = await startVirtualModem({ dialect, registrationDelayMs: 50, platform, link: { bootTimeMs: 300 }, ...options });
  const link = await connectTcpLink("127.0.0.1", running.port!);
  const at = new AtEngine(link, platform, atEngineOptions(dialect, { defaultTimeoutMs: 5000, resyncTimeoutMs: 500, ...atOptions }));
  const modem = createModem(dialect, at, platform, {
    hooks: { hardReset: () => running.hardReset() },
    timeouts: { dataBaseMs: 2000 },
    recovery: { backoffMs: 200, rounds: 2 },
    bootSettleMs: 200,
    ...modemOptions,
  });
  return {
    running,
    link,
    at,
    modem,
    platform,
    async close() {
      modem.dispose();
      at.close();
      await running.close();
    },
  };
}

export function dialectSuite(c: DialectCase): void {
  describe(`${c.dialect}: firmware driver against the virtual ${c.dialect} modem over TCP`, function () {
    this.timeout(30000);
    let r: Rig;
    let echo: Awaited<ReturnType<typeof echoServer>>;

    beforeEach(async function () {
      echo = await echoServer();
      r = await rig(c.dialect);
      await r.modem.init();
    });

    afterEach(async function () {
      await r.close();
      await echo.close();
    });

    it("initialises and reports the identity (IMEI, ICCID, IMSI, model, firmware)", async function () {
      const identity = await r.modem.identity();
      assert.equal(identity.manufacturer, c.manufacturer);
      assert.equal(identity.imei, DEFAULT_IDENTITY.imei);
      assert.equal(identity.iccid, DEFAULT_IDENTITY.iccid);
      assert.equal(identity.imsi, DEFAULT_IDENTITY.imsi);
      assert.ok(identity.model.length > 0 && identity.firmware.length > 0);
    });

    it("reports a SIM that wants its PIN, and enters the PIN when given", async function () {
      const locked = await rig(c.dialect, { pin: "2468" });
      try {
        await assert.rejects(locked.modem.init(), (error: Error) => error instanceof SimLockedError && error.state === "SIM PIN");
        await locked.modem.init({ pin: "2468" });
        assert.equal((await locked.modem.identity()).imsi, DEFAULT_IDENTITY.imsi);
      } finally {
        await locked.close();
      }
    });

    it("attaches, reads network time and signal quality", async function () {
      const result = await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
      assert.equal(result.registrationStatus, 1);
      const time = await r.modem.networkTime();
      assert.ok(Math.abs(time.getTime() - Date.now()) < 5000, `network time ${time.toISOString()} is not now`);
      const signal = await r.modem.signalQuality();
      assert.deepEqual(signal, c.signal ?? { rssi: 20, dbm: -73, ber: undefined });
    });

    it("reaches the SIM applet through each transport the family supports", async function () {
      for (const kind of c.dialect === "generic" ? [] : r.modem.simAccess.order) {
        const access = createAtCardAccess(r.modem.simPort, { order: [kind] });
        const channel = await access.openApplication([AID.GSMA_IOT_SAFE]);
        // The minimal virtual card answers only SELECT; any status word proves the round trip.
        const response = await channel.transmit({ cla: 0x80, ins: 0xca, p1: 0x00, p2: 0x00, le: 256 });
        assert.ok(response.status.value > 0, `${kind}: a status word came back`);
        await channel.close();
      }
      assert.ok(r.modem.simAccess.order.length >= 1);
    });

    it("retries SIM busy (+CME ERROR: 14) on SIM commands", async function () {
      const access = createAtCardAccess(r.modem.simPort, { order: r.modem.simAccess.order });
      r.running.linkModel!.inject("sim-busy:count=2");
      const channel = await access.openApplication([AID.GSMA_IOT_SAFE]);
      assert.equal(r.running.linkModel!.stats.simBusy, 2);
      await channel.close();
    });

    it("carries binary data through a socket to a TCP echo server, beyond the chunk limit both ways", async function () {
      await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
      const socket = await r.modem.openTcp("127.0.0.1", echo.port);
      const transport: TlsTransport = socket; // the TLS client runs over a modem socket as is
      const payload = trickyPayload(Math.max(r.modem.maxSendChunk, r.modem.maxReadChunk) * 2 + 517);
      const [, echoed] = await Promise.all([transport.write(payload), readExactly(socket, payload.length)]);
      assert.deepEqual(echoed, payload);
      await socket.close();
      assert.equal(socket.state, "closed");
      assert.equal(socket.closeReason, "local");
    });

    it("reports the peer closing: data first, then end of stream and a close event", async function () {
      await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
      const farewell = trickyPayload(300);
      const server = await tcpServer((peer) => peer.end(Buffer.from(farewell)));
      try {
        const socket = await r.modem.openTcp("localhost", server.port);
        const closed = new Promise((resolve) => {
          socket.onClose = resolve;
        });
        assert.deepEqual(await readExactly(socket, farewell.length), farewell);
        assert.equal(await socket.read(100), null);
        assert.equal(await closed, "peer");
        await socket.close();
      } finally {
        await server.close();
      }
    });

    it("refuses hosts outside loopback with a clear error", async function () {
      await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
      await assert.rejects(r.modem.openTcp("example.com", 443), (error: Error) => error.name === "SocketOpenError");
    });

    it("recovers after an injected modem reset: the socket reports the loss, SIM channels are reopened", async function () {
      await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
      const access = createAtCardAccess(r.modem.simPort, { order: r.modem.simAccess.order });
      let channel = await access.openApplication([AID.GSMA_IOT_SAFE]);
      let reopened = 0;
      r.modem.afterReset(async () => {
        channel = await access.openApplication([AID.GSMA_IOT_SAFE]);
        reopened++;
      });
      const socket = await r.modem.openTcp("127.0.0.1", echo.port);
      const lost = new Promise((resolve) => {
        socket.onClose = resolve;
      });
      const recovered = nextEvent(r.modem, (e) => e.type === "recovered");
      // A TLS session always has a read pending: it is what notices the loss on modems that announce no reboot.
      const pending = socket.read(10);
      await r.running.hardReset();
      await assert.rejects(pending, SocketLostError);
      assert.equal(await lost, "lost");
      await assert.rejects(socket.read(10), SocketLostError);
      await recovered;
      assert.equal(reopened, 1);
      const response = await channel.transmit({ cla: 0x80, ins: 0xca, p1: 0, p2: 0, le: 256 });
      assert.ok(response.status.value > 0);
      const again = await r.modem.openTcp("127.0.0.1", echo.port);
      await again.write(Uint8Array.of(1, 2, 3));
      assert.deepEqual(await readExactly(again, 3), Uint8Array.of(1, 2, 3));
      await again.close();
    });

    it("answers recover() at the first rung (resync) while the modem is healthy", async function () {
      await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
      assert.equal(await r.modem.recover("test"), "resync");
    });

    it("climbs the ladder to the board's hard reset when the modem hangs", async function () {
      const hung = await rig(c.dialect, {}, { bootTimeoutMs: 1500, timeouts: { commandMs: 800 }, autoRecover: false }, { resyncAttempts: 2, resyncTimeoutMs: 300 });
      try {
        await hung.modem.init();
        await hung.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
        const socket = await hung.modem.openTcp("127.0.0.1", echo.port);
        hung.running.linkModel!.inject("hang");
        assert.equal(await hung.modem.recover("test"), "hard-reset");
        assert.equal(socket.closeReason, "lost");
        assert.deepEqual(await hung.modem.signalQuality(), c.signal ?? { rssi: 20, dbm: -73, ber: undefined });
      } finally {
        await hung.close();
      }
    });

    it("detects dropped bytes on a socket read (timeout, resync) without hanging, and keeps working", async function () {
      await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
      const socket = await r.modem.openTcp("127.0.0.1", echo.port);
      await socket.write(trickyPayload(200));
      await new Promise((resolve) => setTimeout(resolve, 200));
      // 30 bytes in is past every dialect's read header: the payload comes up short.
      r.running.linkModel!.inject(`drop:on=${c.readCommand},bytes=40,offset=30`);
      const started = Date.now();
      await assert.rejects(readExactly(socket, 200), (error: Error) => error instanceof SocketReceiveError || error instanceof AtTimeoutError);
      assert.ok(Date.now() - started < 15000);
      assert.ok(r.at.counters.timeouts >= 1 && r.at.counters.resyncs >= 1);
      assert.deepEqual(await r.modem.signalQuality(), c.signal ?? { rssi: 20, dbm: -73, ber: undefined });
      await assert.rejects(socket.read(10), SocketReceiveError, "the broken stream stays broken");
      await socket.close();
    });

    it("keeps the modem usable when the drop hits a read header, and a read timeout ends the wait", async function () {
      await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
      const socket = await r.modem.openTcp("127.0.0.1", echo.port, { readTimeoutMs: 3000 });
      await socket.write(trickyPayload(200));
      await new Promise((resolve) => setTimeout(resolve, 200));
      // A corrupted length header can go unnoticed by the modem layer (TLS notices); nothing hangs.
      r.running.linkModel!.inject(`drop:on=${c.readCommand},bytes=6,offset=4`);
      await assert.rejects(readExactly(socket, 200), (error: Error) => error instanceof SocketReceiveError || error instanceof AtTimeoutError || /ended/.test(error.message));
      assert.deepEqual(await r.modem.signalQuality(), c.signal ?? { rssi: 20, dbm: -73, ber: undefined });
      await socket.close();
    });

    it("gives a clear error without coverage", async function () {
      const other = await rig(c.dialect, { network: { coverage: false } });
      try {
        await other.modem.init();
        await assert.rejects(other.modem.attach({ apn: "iot.test", registrationTimeoutMs: 1500 }), NoCoverageError);
      } finally {
        await other.close();
      }
    });

    it("gives a clear error when the APN is refused", async function () {
      const other = await rig(c.dialect, { network: { refusedApns: ["bad.apn"] } });
      try {
        await other.modem.init();
        // Without an activation command the APN goes with the attach, which the network then denies.
        const expected = c.activatesData ? ApnRejectedError : NoCoverageError;
        await assert.rejects(other.modem.attach({ apn: "bad.apn", registrationTimeoutMs: 1500 }), (error: Error) => error instanceof expected && /bad\.apn/.test(error.message));
      } finally {
        await other.close();
      }
    });
  });
}
