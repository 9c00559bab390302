/**
 * One mutual-auth TLS 1.3 exchange whose client key stays in the SIM: open IoT SAFE through the
 * modem, read the certificate chain, handshake (CertificateVerify signed in the SIM), send a line,
 * return the first line that comes back. `iotsafe connect` and the interop tests run it.
 */
import { bytesToUtf8, concatBytes, utf8ToBytes } from "../bytes/bytes.js";
import { nobleCrypto } from "../crypto/noble-provider.js";
import { objectId, SimClientCredential } from "../iotsafe/index.js";
import { TlsClient } from "../tls/client.js";
import { byteLinkTransport, type TlsTransport } from "../tls/transport.js";
import { EntryArgumentError, type FirmwareContext, stringArg } from "./context.js";
import { openSimSession, type SimSession } from "./sim-session.js";
import type { SimTransportKind } from "../sim/index.js";

/** Longest reply line kept (a bounded buffer: the peer is not trusted). */
const MAX_REPLY_LINE = 4096;

export interface SecureEchoArgs {
  /** "direct": TLS over the host link "net" (a TCP connection the host made); "modem": through the modem's socket. */
  network: "direct" | "modem";
  /** Modem family: with network "modem" it must have socket commands (default quectel-bg95 then, generic otherwise). */
  dialect: string;
  apn: string;
  host: string;
  port: number;
  serverName: string;
  /** Trust anchors, PEM text. */
  caPem: string;
  send: string;
  simTransport: "csim" | "cgla" | "auto";
  keyId: string;
  certificateIds: string;
  /** After the first exchange, connect again (network "modem") resuming the session with its ticket, and measure that handshake too. */
  resume: boolean;
}

export function parseSecureEchoArgs(args: unknown): SecureEchoArgs {
  const network = stringArg(args, "network", "direct");
  if (network !== "direct" && network !== "modem") throw new EntryArgumentError(`network must be direct or modem, not ${network}`);
  const simTransport = stringArg(args, "simTransport", "auto");
  if (simTransport !== "csim" && simTransport !== "cgla" && simTransport !== "auto") throw new EntryArgumentError(`simTransport must be csim, cgla or auto`);
  const port = Number((args as { port?: unknown }).port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new EntryArgumentError(`port must be 1..65535`);
  const host = stringArg(args, "host");
  return {
    network,
    dialect: stringArg(args, "dialect", network === "modem" ? "quectel-bg95" : "generic"),
    apn: stringArg(args, "apn", "internet"),
    host,
    port,
    serverName: stringArg(args, "serverName", host),
    caPem: stringArg(args, "caPem"),
    send: stringArg(args, "send", "hello from the SIM"),
    simTransport,
    keyId: stringArg(args, "keyId", "01"),
    certificateIds: stringArg(args, "certificateIds", "02"),
    resume: (args as { resume?: unknown }).resume === true,
  };
}

async function readLine(tls: TlsClient): Promise<string> {
  let received: Uint8Array = new Uint8Array(0);
  for (;;) {
    const newline = received.indexOf(0x0a);
    if (newline >= 0) return bytesToUtf8(received.subarray(0, newline)).replace(/\r$/, "");
    if (received.length > MAX_REPLY_LINE) throw new Error(`reply line longer than ${MAX_REPLY_LINE} bytes`);
    const chunk = await tls.read();
    if (chunk === null) {
      if (received.length) return bytesToUtf8(received);
      throw new Error("the server closed the connection without replying");
    }
    received = concatBytes(received, chunk);
  }
}

/** Runs a handshake and counts the SIM and AT traffic it took. */
async function measuredHandshake(session: SimSession, connect: () => Promise<TlsClient>) {
  const apduBefore = session.client.counters.snapshot();
  const atBefore = session.at.counters;
  const tls = await connect();
  const apduAfter = session.client.counters.snapshot();
  return {
    tls,
    sim: {
      apdus: apduAfter.apdus - apduBefore.apdus,
      apduBytes: apduAfter.bytesSent - apduBefore.bytesSent + apduAfter.bytesReceived - apduBefore.bytesReceived,
      atCommands: session.at.counters.commandsSent - atBefore.commandsSent,
      atBytes: session.at.counters.bytesOut - atBefore.bytesOut + session.at.counters.bytesIn - atBefore.bytesIn,
    },
  };
}

export async function secureEcho(rawArgs: unknown, { platform, link }: FirmwareContext): Promise<unknown> {
  const args = parseSecureEchoArgs(rawArgs);
  const phases: Record<string, number> = {};
  let mark = platform.now();
  const phase = (name: string) => {
    const now = platform.now();
    phases[name] = Math.round(now - mark);
    mark = now;
  };
  const transports: SimTransportKind[] = args.simTransport === "auto" ? ["csim", "cgla"] : [args.simTransport];
  const session = await openSimSession(link("modem"), platform, { transports, dialect: args.dialect });
  phase("sim");
  let transport: TlsTransport | undefined;
  try {
    const credential = new SimClientCredential(session.client, {
      privateKey: objectId(args.keyId),
      certificates: args.certificateIds.split(",").map((id) => objectId(id)),
    });
    await credential.certificateChain();
    phase("certificate");
    if (args.network === "modem") {
      await session.modem.attach({ apn: args.apn });
      phase("attach");
      transport = await session.modem.openTcp(args.host, args.port);
      phase("socket");
    } else {
      transport = byteLinkTransport(link("net"));
    }
    const options = { serverName: args.serverName, platform, provider: nobleCrypto, trustAnchors: [args.caPem], credential };
    const first = await measuredHandshake(session, () => TlsClient.connect(transport!, options));
    phase("handshake");
    const tls = first.tls;
    await tls.write(utf8ToBytes(args.send + "\n"));
    const reply = await readLine(tls);
    phase("exchange");
    await tls.close();
    let resumed: unknown;
    if (args.resume && args.network === "modem") {
      await transport.close();
      const ticket = tls.tickets[0];
      if (!ticket) throw new Error("the server issued no session ticket to resume with");
      transport = await session.modem.openTcp(args.host, args.port);
      const started = platform.now();
      const again = await measuredHandshake(session, () => TlsClient.connect(transport!, { ...options, resumption: ticket }));
      const handshakeMs = Math.round(platform.now() - started);
      await again.tls.write(utf8ToBytes(args.send + "\n"));
      const secondReply = await readLine(again.tls);
      await again.tls.close();
      resumed = { reply: secondReply, resumed: again.tls.info.resumed, handshakeMs, tlsStats: again.tls.stats, handshakeSim: again.sim };
    }
    return {
      reply,
      info: tls.info,
      tlsStats: tls.stats,
      identity: session.identity,
      simTransport: session.transport,
      handshakeSim: first.sim,
      phases,
      ...(resumed ? { resumedHandshake: resumed } : {}),
    };
  } finally {
    await transport?.close().catch(() => undefined);
    await session.close();
  }
}
