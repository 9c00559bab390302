// Node ByteLinks (hosts/node/links.ts) against real sockets: asynchronous onReadable, pull reads,
// bounded buffering with back-pressure, one onClose (with an Error on reset), pty devices via socat.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ByteLink, LinkClosedError } from "../../modules/platform/platform.js";
import { connectTcpLink, LinkConnectError, openDeviceLink, socketLink } from "../../hosts/node/links.js";
import { socatAvailable } from "../../hosts/sim/modem/index.js";

function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 5);
    };
    check();
  });
}

function closeEvents(link: ByteLink): (Error | undefined)[] {
  const events: (Error | undefined)[] = [];
  link.onClose = (error) => events.push(error);
  return events;
}

describe("Node byte links", function () {
  let server: Server;
  let port: number;
  let accepted: Socket[];

  beforeEach(async function () {
    accepted = [];
    server = createServer((socket) => {
      accepted.push(socket);
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });

  afterEach(async function () {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("connectTcpLink carries bytes both ways; onReadable is asynchronous; read(max) pulls part", async function () {
    const link = await connectTcpLink("127.0.0.1", port);
    await waitFor(() => accepted.length === 1, "accept");
    const peer = accepted[0]!;
    const fromLink: Buffer[] = [];
    peer.on("data", (chunk: Buffer) => fromLink.push(chunk));

    let insideWrite = false;
    let calledInsideWrite = false;
    const notified: number[] = [];
    link.onReadable = (count) => {
      if (insideWrite) calledInsideWrite = true;
      notified.push(count);
    };
    insideWrite = true;
    link.write(Uint8Array.of(0x41, 0x54, 0x0d));
    insideWrite = false;
    await waitFor(() => Buffer.concat(fromLink).length === 3, "bytes at the peer");
    assert.equal(Buffer.concat(fromLink).toString("latin1"), "AT\r");

    peer.write(Buffer.from("\r\nOK\r\n", "latin1"));
    await waitFor(() => link.readable === 6, "6 readable bytes");
    assert.ok(notified.length >= 1 && notified.every((n) => n > 0));
    assert.equal(calledInsideWrite, false);
    assert.deepEqual(link.read(2), Uint8Array.of(0x0d, 0x0a));
    assert.equal(link.readable, 4);
    assert.deepEqual(link.read(), Uint8Array.of(0x4f, 0x4b, 0x0d, 0x0a));
    assert.equal(link.read(), undefined);
    assert.equal(link.readable, 0);
    link.close();
  });

  it("bounds what it buffers: pauses the socket past maxBuffered, resumes as the reader drains, loses nothing", async function () {
    const maxBuffered = 16 * 1024;
    const link = await connectTcpLink("127.0.0.1", port, { maxBuffered });
    await waitFor(() => accepted.length === 1, "accept");
    const total = 1024 * 1024;
    const payload = new Uint8Array(total);
    for (let i = 0; i < total; i++) payload[i] = (i * 31 + (i >> 8)) & 0xff;
    accepted[0]!.write(payload);

    // The reader does not read: the link must stop taking bytes at about maxBuffered (one socket read past it at most).
    await waitFor(() => link.readable > maxBuffered, "the buffer to fill");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const held = link.readable;
    assert.ok(held <= maxBuffered + 64 * 1024, `held ${held} bytes`);
    assert.ok(held < total, "the socket was not paused");

    const received = new Uint8Array(total);
    let filled = 0;
    await waitFor(() => {
      for (let chunk = link.read(4096); chunk; chunk = link.read(4096)) {
        received.set(chunk, filled);
        filled += chunk.length;
      }
      return filled === total;
    }, "all bytes", 10_000);
    assert.deepEqual(received, payload);
    link.close();
  });

  it("reports a peer's orderly close once, without an error, and keeps the last bytes readable", async function () {
    const link = await connectTcpLink("127.0.0.1", port);
    const events = closeEvents(link);
    await waitFor(() => accepted.length === 1, "accept");
    accepted[0]!.end(Buffer.from("bye"));
    await waitFor(() => events.length > 0, "close");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(events, [undefined]);
    assert.deepEqual(link.read(), Uint8Array.from(Buffer.from("bye")));
    assert.throws(() => link.write(Uint8Array.of(1)), LinkClosedError);
  });

  it("reports a peer's reset once, with an Error", async function () {
    const link = await connectTcpLink("127.0.0.1", port);
    const events = closeEvents(link);
    await waitFor(() => accepted.length === 1, "accept");
    accepted[0]!.resetAndDestroy();
    await waitFor(() => events.length > 0, "close");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(events.length, 1);
    assert.ok(events[0] instanceof Error, `expected an Error, got ${String(events[0])}`);
  });

  it("close() ends the link once: onClose(undefined), later writes throw LinkClosedError, the peer sees the end", async function () {
    const link = await connectTcpLink("127.0.0.1", port);
    const events = closeEvents(link);
    await waitFor(() => accepted.length === 1, "accept");
    let peerEnded = false;
    accepted[0]!.on("end", () => (peerEnded = true));
    accepted[0]!.resume();
    link.write(Uint8Array.of(1, 2, 3));
    link.close();
    link.close();
    assert.throws(() => link.write(Uint8Array.of(1)), LinkClosedError);
    await waitFor(() => peerEnded && events.length > 0, "peer end");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(events, [undefined]);
  });

  it("socketLink wraps an accepted socket", async function () {
    const link = await connectTcpLink("127.0.0.1", port);
    await waitFor(() => accepted.length === 1, "accept");
    const serverSide = socketLink(accepted[0]!);
    link.write(Uint8Array.of(9, 8, 7));
    await waitFor(() => serverSide.readable === 3, "bytes on the server side");
    assert.deepEqual(serverSide.read(), Uint8Array.of(9, 8, 7));
    const events = closeEvents(link);
    serverSide.close();
    await waitFor(() => events.length === 1, "client close");
  });

  it("connectTcpLink fails with LinkConnectError when nobody listens", async function () {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(connectTcpLink("127.0.0.1", deadPort), LinkConnectError);
  });

  it("openDeviceLink fails with LinkConnectError on a path that does not exist", function () {
    assert.throws(() => openDeviceLink("/nonexistent/device/ttyX"), LinkConnectError);
  });

  it("openDeviceLink reads and writes a FIFO, and closing it does not hang the process", async function () {
    const dir = mkdtempSync(join(tmpdir(), "links-fifo-"));
    const path = join(dir, "fifo");
    try {
      if (spawnSync("mkfifo", [path]).status !== 0) this.skip();
      // Opened read/write, a FIFO loops back what the link writes.
      const link = openDeviceLink(path);
      const events = closeEvents(link);
      link.write(Uint8Array.of(0x41, 0x54, 0x0d));
      await waitFor(() => link.readable === 3, "looped-back bytes");
      assert.deepEqual(link.read(), Uint8Array.of(0x41, 0x54, 0x0d));
      link.close();
      await waitFor(() => events.length === 1, "close");
      assert.deepEqual(events, [undefined]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("openDeviceLink talks through a socat pty pair", async function () {
    if (!socatAvailable()) this.skip();
    const dir = mkdtempSync(join(tmpdir(), "links-pty-"));
    const a = join(dir, "a");
    const b = join(dir, "b");
    const socat = spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore" });
    try {
      await waitFor(() => existsSync(a) && existsSync(b), "pty links");
      const left = openDeviceLink(a);
      const right = openDeviceLink(b);
      left.write(Uint8Array.from(Buffer.from("AT\r\n", "latin1")));
      await waitFor(() => right.readable === 4, "bytes across the pty");
      assert.equal(Buffer.from(right.read()!).toString("latin1"), "AT\r\n");
      right.write(Uint8Array.from([0, 0xff, 0x0d, 0x0a]));
      await waitFor(() => left.readable === 4, "binary bytes back");
      assert.deepEqual(left.read(), Uint8Array.from([0, 0xff, 0x0d, 0x0a]));
      const events = closeEvents(right);
      left.close();
      right.close();
      await waitFor(() => events.length === 1, "close");
    } finally {
      socat.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
