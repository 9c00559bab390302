/**
 * `sequans-gm02s`: Sequans GM02S (Walter) as modems.md §2.5 documents it.
 *   AT+SQNSCFG=<id 1..6>,<cid>,<pktSz>,<maxTo>,<connTo>,<txTo>; AT+SQNSCFGEXT=<id>,<srMode 0|1>,<recvDataMode 0>,<keepalive>,<listenAutoRsp>,<sendDataMode 0>
 *   AT+SQNSD=<id>,0,<port>,"<host>",0,<lport>,1[,<acceptAnyRemote>[,0]] → OK once connected (NO CARRIER when not)
 *   AT+SQNSSENDEXT=<id>,<len ≤1500>[,<rai>] → CR LF `> ` → <len bytes> → OK
 *   `+SQNSRING: <id>` (srMode 0) / `+SQNSRING: <id>,<len>` (srMode 1) when data arrives
 *   AT+SQNSRECV=<id>,<max ≤1500> → `+SQNSRECV: <id>,<n>` CR LF <n bytes> CR LF OK
 *   AT+SQNSI=<id>, AT+SQNSS?; AT+SQNSH=<id>; `+SQNSH: <id>` once the peer closed and the data is read
 * Boot and AT^RESET end with `+SYSSTART`. AT+SQNCCID → `+SQNCCID: "<iccid>",""`. AT+CSIM answers
 * without quotes and repeats the previous answer line first (Monarch quirks the doc reports).
 */
import { fromHex, toHex } from "../../../../modules/bytes/bytes.js";
import { byForm, expectParamCount, integerParam, optionalIntegerParam, stringParam } from "../commands.js";
import type { ModemDialect } from "../dialects.js";
import { CME, CmeError } from "../errors.js";
import type { VirtualModem } from "../virtual-modem.js";
import { socketTable, tcpStackOf, type VirtualConnection, VIRTUAL_IP_ADDRESS } from "./network.js";

const NAME = "sequans-gm02s";
const MAX_SEND = 1500;
const MAX_READ = 1500;
const DATA_TIMEOUT_MS = 20000;

interface SocketConfig {
  cid: number;
  connectTimeoutMs: number;
  ringMode: number;
}

interface SequansSocket {
  id: number;
  host: string;
  port: number;
  connection: VirtualConnection;
  notified: boolean;
  peerClosed: boolean;
  closeAnnounced: boolean;
  bytesRead: number;
}

function configs(modem: VirtualModem): SocketConfig[] {
  return modem.extension(`${NAME}.configs`, () => Array.from({ length: 7 }, () => ({ cid: 1, connectTimeoutMs: 60000, ringMode: 1 })));
}

function sockets(modem: VirtualModem): Map<number, SequansSocket> {
  return socketTable<SequansSocket>(modem, NAME);
}

function urc(modem: VirtualModem, line: string): void {
  modem.broadcast(() => line);
}

function idParam(params: Parameters<typeof integerParam>[0]): number {
  return integerParam(params, 0, 1, 6);
}

function dropSocket(modem: VirtualModem, socket: SequansSocket): void {
  socket.connection.close();
  sockets(modem).delete(socket.id);
}

function ring(modem: VirtualModem, socket: SequansSocket): void {
  if (sockets(modem).get(socket.id) !== socket || socket.notified || socket.connection.available === 0) return;
  socket.notified = true;
  const mode = configs(modem)[socket.id]!.ringMode;
  urc(modem, mode === 0 ? `+SQNSRING: ${socket.id}` : `+SQNSRING: ${socket.id},${socket.connection.available}`);
}

function announceCloseIfDrained(modem: VirtualModem, socket: SequansSocket): void {
  if (!socket.peerClosed || socket.closeAnnounced || socket.connection.available > 0) return;
  socket.closeAnnounced = true;
  dropSocket(modem, socket);
  urc(modem, `+SQNSH: ${socket.id}`);
}

const sqnscfg = byForm({
  read: (c) => configs(c.modem).forEach((cfg, id) => id > 0 && c.info(`+SQNSCFG: ${id},${cfg.cid},300,90,${cfg.connectTimeoutMs / 100},50`)),
  set: (c, params) => {
    expectParamCount(params, 2, 6);
    const id = idParam(params);
    const cfg = configs(c.modem)[id]!;
    cfg.cid = integerParam(params, 1, 1, 6);
    optionalIntegerParam(params, 2, 0, 1500);
    optionalIntegerParam(params, 3, 0, 65535);
    const connectTenths = optionalIntegerParam(params, 4, 0, 1200);
    optionalIntegerParam(params, 5, 0, 255);
    if (connectTenths !== undefined) cfg.connectTimeoutMs = Math.max(1, connectTenths) * 100;
  },
});

const sqnscfgext = byForm({
  read: (c) => configs(c.modem).forEach((cfg, id) => id > 0 && c.info(`+SQNSCFGEXT: ${id},${cfg.ringMode},0,0,0,0`)),
  set: (c, params) => {
    expectParamCount(params, 2, 6);
    const id = idParam(params);
    const ringMode = integerParam(params, 1, 0, 2);
    const recvDataMode = optionalIntegerParam(params, 2, 0, 1) ?? 0;
    optionalIntegerParam(params, 3, 0, 240);
    optionalIntegerParam(params, 4, 0, 1);
    const sendDataMode = optionalIntegerParam(params, 5, 0, 1) ?? 0;
    if (ringMode === 2 || recvDataMode !== 0 || sendDataMode !== 0) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "only ring modes 0/1 and raw data are emulated");
    configs(c.modem)[id]!.ringMode = ringMode;
  },
});

const sqnsd = byForm({
  set: async (c, params) => {
    expectParamCount(params, 7, 9);
    const modem = c.modem;
    const id = idParam(params);
    const protocol = integerParam(params, 1, 0, 1);
    const port = integerParam(params, 2, 1, 65535);
    const host = stringParam(params, 3);
    optionalIntegerParam(params, 4, 0, 255);
    optionalIntegerParam(params, 5, 0, 65535);
    const connMode = integerParam(params, 6, 0, 1);
    if (protocol !== 0) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "only TCP (0) is emulated");
    if (connMode !== 1) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "only command mode (1) is emulated");
    if (sockets(modem).has(id)) throw new CmeError(CME.OPERATION_NOT_ALLOWED, `socket ${id} is connected`);
    if (!modem.registered) throw new CmeError(CME.NO_NETWORK_SERVICE);
    let connection: VirtualConnection;
    try {
      connection = await tcpStackOf(modem).connect(host, port, configs(modem)[id]!.connectTimeoutMs);
    } catch (error) {
      modem.platform.log("debug", "modem", `SQNSD ${id}: ${(error as Error).message}`);
      c.setFinalResult("NO CARRIER");
      return;
    }
    const socket: SequansSocket = { id, host, port, connection, notified: false, peerClosed: false, closeAnnounced: false, bytesRead: 0 };
    sockets(modem).set(id, socket);
    connection.onData = () => ring(modem, socket);
    connection.onPeerClose = () => {
      if (sockets(modem).get(id) !== socket) return;
      socket.peerClosed = true;
      announceCloseIfDrained(modem, socket);
    };
    c.afterFinalResult(() => {
      if (connection.available > 0) ring(modem, socket);
      if (connection.peerClosed) connection.onPeerClose?.();
    });
  },
});

const sqnssendext = byForm({
  set: async (c, params) => {
    expectParamCount(params, 2, 3);
    const socket = sockets(c.modem).get(idParam(params));
    const length = integerParam(params, 1, 1, 100000);
    optionalIntegerParam(params, 2, 0, 2);
    if (!socket || socket.peerClosed) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "socket not connected");
    if (length > MAX_SEND) throw new CmeError(CME.INCORRECT_PARAMETERS, `at most ${MAX_SEND} bytes`);
    c.raw(Uint8Array.of(0x0d, 0x0a, 0x3e, 0x20)); // CR LF "> "
    const data = await c.readData(length, DATA_TIMEOUT_MS);
    socket.connection.write(data);
  },
});

const sqnsrecv = byForm({
  set: (c, params) => {
    expectParamCount(params, 2, 2);
    const modem = c.modem;
    const socket = sockets(modem).get(idParam(params));
    const wanted = integerParam(params, 1, 1, 100000);
    if (!socket) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "socket not connected");
    if (wanted > MAX_READ) throw new CmeError(CME.INCORRECT_PARAMETERS, `at most ${MAX_READ} bytes`);
    const data = socket.connection.read(wanted);
    socket.bytesRead += data.length;
    socket.notified = false;
    c.info(`+SQNSRECV: ${socket.id},${data.length}`);
    if (data.length > 0) c.raw(data);
    c.afterFinalResult(() => {
      ring(modem, socket);
      announceCloseIfDrained(modem, socket);
    });
  },
});

const sqnsh = byForm({
  set: (c, params) => {
    expectParamCount(params, 1, 1);
    const socket = sockets(c.modem).get(idParam(params));
    if (!socket) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "socket not connected");
    socket.closeAnnounced = true;
    dropSocket(c.modem, socket);
  },
});

const sqnsi = byForm({
  set: (c, params) => {
    expectParamCount(params, 1, 1);
    const id = idParam(params);
    const socket = sockets(c.modem).get(id);
    const connection = socket?.connection;
    c.info(`+SQNSI: ${id},${connection?.bytesSent ?? 0},${socket?.bytesRead ?? 0},${connection?.available ?? 0},${connection?.unsent ?? 0}`);
  },
});

const sqnss = byForm({
  read: (c) => {
    for (let id = 1; id <= 6; id++) {
      const socket = sockets(c.modem).get(id);
      if (!socket) c.info(`+SQNSS: ${id},0`);
      else c.info(`+SQNSS: ${id},${socket.connection.available > 0 ? 3 : 2},"${VIRTUAL_IP_ADDRESS}",${socket.connection.localPort},"${socket.host}",${socket.port}`);
    }
  },
});

/** AT+CSIM as Monarch answers it: the response hex unquoted, after a repeat of the previous answer. */
const csim = byForm({
  test: () => undefined,
  set: async (c, params) => {
    expectParamCount(params, 2, 2);
    const length = integerParam(params, 0, 0, 1_000_000);
    const hex = stringParam(params, 1);
    if (hex.length !== length) throw new CmeError(CME.INCORRECT_PARAMETERS, `length ${length} does not match ${hex.length} hex characters`);
    let apdu: Uint8Array;
    try {
      apdu = fromHex(hex);
    } catch {
      throw new CmeError(CME.INCORRECT_PARAMETERS, "APDU is not hex");
    }
    if (apdu.length < 4) throw new CmeError(CME.INCORRECT_PARAMETERS, "APDU shorter than a header");
    c.modem.requireSimReady();
    const response = await c.modem.transmitApdu(apdu);
    const state = c.modem.extension(`${NAME}.csim`, () => ({ previous: undefined as string | undefined }));
    const line = `+CSIM: ${response.length * 2},${toHex(response).toUpperCase()}`;
    if (state.previous) c.info(state.previous);
    state.previous = line;
    c.info(line);
  },
});

export const sequansGm02sDialect: ModemDialect = {
  name: NAME,
  summary: "Sequans GM02S (Walter): SQNSCFG, SQNSD, SQNSSENDEXT, SQNSRECV, SQNSH, +SQNSRING",
  identity: { manufacturer: "Sequans Communications", model: "GM02S", revision: "UE8.0.5.5" },
  bootUrcs: ["+SYSSTART"],
  defaultBearerCid: 1,
  limits: { send: MAX_SEND, read: MAX_READ },
  commands: {
    "+SQNSCFG": sqnscfg,
    "+SQNSCFGEXT": sqnscfgext,
    "+SQNSD": sqnsd,
    "+SQNSSENDEXT": sqnssendext,
    "+SQNSRECV": sqnsrecv,
    "+SQNSH": sqnsh,
    "+SQNSI": sqnsi,
    "+SQNSS": sqnss,
    "+SQNCCID": byForm({ action: (c) => c.info(`+SQNCCID: "${c.modem.identity.iccid}",""`), read: (c) => c.info(`+SQNCCID: "${c.modem.identity.iccid}",""`) }),
    "+CSIM": csim,
    "^RESET": byForm({
      action: (c) => {
        const modem = c.modem;
        c.afterFinalResult(() => void modem.reset());
      },
    }),
  },
  onReset(modem) {
    for (const socket of [...sockets(modem).values()]) dropSocket(modem, socket);
    modem.extension(`${NAME}.csim`, () => ({ previous: undefined as string | undefined })).previous = undefined;
    for (const cfg of configs(modem)) {
      cfg.ringMode = 1;
      cfg.connectTimeoutMs = 60000;
    }
  },
};
