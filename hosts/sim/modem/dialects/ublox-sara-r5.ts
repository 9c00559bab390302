/**
 * `ublox-sara-r5`: u-blox SARA-R5 as modems.md §2.3 documents it.
 *   PSD profile: AT+UPSD=0,100,<cid> / AT+UPSD=0,0,2 / AT+UPSDA=0,3 (activate) / 0,4 (deactivate);
 *     AT+UPSND=0,8 → `+UPSND: 0,8,<0|1>`, AT+UPSND=0,0 → the IP; `+UUPSDD: 0` when the network drops it
 *   AT+USOCR=6 → `+USOCR: <s>`
 *   AT+USOCO=<s>,"<host>",<port>[,1] → synchronous OK, or OK then `+UUSOCO: <s>,<err>` (async)
 *   AT+USOWR=<s>,<len ≤1024> → `@` → (≥ 50 ms pause; data that comes sooner is refused) → bytes →
 *     `+USOWR: <s>,<len>` OK;  hex mode (AT+UDCONF=1,1): AT+USOWR=<s>,<len>,"<hex>" (≤ 512), no prompt
 *   `+UUSORD: <s>,<len>` → AT+USORD=<s>,<n ≤1024> → `+USORD: <s>,<n>,"<data>"` (raw, or hex in hex mode);
 *     AT+USORD=<s>,0 → `+USORD: <s>,<pending>`; a closed socket → `+CME ERROR: 3` (operation not allowed)
 *   AT+USOCL=<s>[,1] → OK (async: then `+UUSOCL: <s>`); `+UUSOCL: <s>` when the peer closed and the data is read
 * AT+CFUN=15/16 restart the module; no boot URC.
 */
import type { AtParameter } from "../at-syntax.js";
import { byForm, type CommandContext, type CommandHandler, expectParamCount, integerParam, optionalIntegerParam, stringParam } from "../commands.js";
import type { ModemDialect } from "../dialects.js";
import { AtSyntaxError, CME, CmeError } from "../errors.js";
import { genericCommands } from "../generic-commands.js";
import type { VirtualModem } from "../virtual-modem.js";
import { bytesOfHex, hexOf, socketTable, tcpStackOf, type VirtualConnection, VirtualConnectError, VIRTUAL_IP_ADDRESS } from "./network.js";

const NAME = "ublox-sara-r5";
const MAX_BINARY = 1024;
const MAX_HEX = 512;
const MAX_SOCKETS = 7;
const PROMPT_PAUSE_MS = 50;
const DATA_TIMEOUT_MS = 20000;
const CONNECT_TIMEOUT_MS = 15000;
/** +UUSOCO error codes (BSD errno numbering). */
const SOCKET_ERROR = { REFUSED: 111, TIMEOUT: 110, UNRESOLVED: 1 } as const;

interface Profile {
  cid: number;
  protocol: number;
  active: boolean;
}

interface UbloxSocket {
  id: number;
  connection: VirtualConnection | undefined;
  connecting: boolean;
  host: string;
  port: number;
  /** +UUSORD went out and no read has been answered since. */
  notified: boolean;
  /** The peer closed; +UUSOCL goes out once the buffer is drained. */
  peerClosed: boolean;
  closeAnnounced: boolean;
  lastError: number;
}

function profiles(modem: VirtualModem): Profile[] {
  return modem.extension(`${NAME}.profiles`, () => Array.from({ length: 7 }, () => ({ cid: 1, protocol: 0, active: false })));
}

function sockets(modem: VirtualModem): Map<number, UbloxSocket> {
  return socketTable<UbloxSocket>(modem, NAME);
}

function settings(modem: VirtualModem): { hex: boolean; upsv: number; lastError: number } {
  return modem.extension(`${NAME}.settings`, () => ({ hex: false, upsv: 1, lastError: 0 }));
}

function urc(modem: VirtualModem, line: string): void {
  modem.broadcast(() => line);
}

function existing(modem: VirtualModem, id: number): UbloxSocket {
  const socket = sockets(modem).get(id);
  if (!socket) throw new CmeError(CME.OPERATION_NOT_ALLOWED, `socket ${id} does not exist`);
  return socket;
}

function dropSocket(modem: VirtualModem, socket: UbloxSocket): void {
  socket.connection?.close();
  sockets(modem).delete(socket.id);
}

/** After the peer closed and everything was read: +UUSOCL, and the socket is gone. */
function announceCloseIfDrained(modem: VirtualModem, socket: UbloxSocket): void {
  if (!socket.peerClosed || socket.closeAnnounced || (socket.connection?.available ?? 0) > 0) return;
  socket.closeAnnounced = true;
  dropSocket(modem, socket);
  urc(modem, `+UUSOCL: ${socket.id}`);
}

function attachConnection(modem: VirtualModem, socket: UbloxSocket, connection: VirtualConnection): void {
  socket.connection = connection;
  socket.connecting = false;
  connection.onData = () => {
    if (sockets(modem).get(socket.id) !== socket || socket.notified) return;
    socket.notified = true;
    urc(modem, `+UUSORD: ${socket.id},${connection.available}`);
  };
  connection.onPeerClose = () => {
    if (sockets(modem).get(socket.id) !== socket) return;
    socket.peerClosed = true;
    announceCloseIfDrained(modem, socket);
  };
  if (connection.available > 0) connection.onData();
  if (connection.peerClosed) connection.onPeerClose();
}

async function connect(modem: VirtualModem, socket: UbloxSocket): Promise<number> {
  try {
    const connection = await tcpStackOf(modem).connect(socket.host, socket.port, CONNECT_TIMEOUT_MS);
    if (sockets(modem).get(socket.id) !== socket) {
      connection.close();
      return SOCKET_ERROR.REFUSED;
    }
    attachConnection(modem, socket, connection);
    return 0;
  } catch (error) {
    socket.connecting = false;
    const reason = error instanceof VirtualConnectError ? error.reason : "refused";
    const code = reason === "dns" ? SOCKET_ERROR.UNRESOLVED : reason === "timeout" ? SOCKET_ERROR.TIMEOUT : SOCKET_ERROR.REFUSED;
    socket.lastError = code;
    settings(modem).lastError = code;
    return code;
  }
}

function profileParam(params: AtParameter[]): number {
  return integerParam(params, 0, 0, 6);
}

const upsd = byForm({
  test: (c) => c.info("+UPSD: (0-6),0,(0-2)"),
  set: (c, params) => {
    expectParamCount(params, 2, 3);
    const profile = profiles(c.modem)[profileParam(params)]!;
    const tag = integerParam(params, 1, 0, 200);
    if (tag !== 0 && tag !== 100) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, `+UPSD parameter ${tag} is not emulated`);
    if (params.length === 2) {
      c.info(`+UPSD: ${params[0]!.value},${tag},${tag === 0 ? profile.protocol : profile.cid}`);
      return;
    }
    if (tag === 0) profile.protocol = integerParam(params, 2, 0, 2);
    else profile.cid = integerParam(params, 2, 1, 8);
  },
});

const upsda = byForm({
  test: (c) => c.info("+UPSDA: (0-6),(0-6)"),
  set: (c, params) => {
    expectParamCount(params, 2, 2);
    const index = profileParam(params);
    const action = integerParam(params, 1, 0, 6);
    const profile = profiles(c.modem)[index]!;
    if (action === 3) {
      if (profile.active) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "profile already active");
      if (!c.modem.registered) throw new CmeError(CME.NO_NETWORK_SERVICE);
      const apn = c.modem.pdpContexts.get(profile.cid)?.apn ?? "";
      if (c.modem.network.refusedApns.includes(apn)) throw new AtSyntaxError(`APN ${apn} refused`);
      profile.active = true;
    } else if (action === 4) {
      profile.active = false;
      for (const socket of [...sockets(c.modem).values()]) dropSocket(c.modem, socket);
    } else throw new CmeError(CME.OPERATION_NOT_SUPPORTED, `+UPSDA action ${action} is not emulated`);
  },
});

const upsnd = byForm({
  set: (c, params) => {
    expectParamCount(params, 2, 2);
    const index = profileParam(params);
    const tag = integerParam(params, 1, 0, 20);
    const profile = profiles(c.modem)[index]!;
    if (tag === 0) c.info(`+UPSND: ${index},0,"${profile.active ? VIRTUAL_IP_ADDRESS : ""}"`);
    else if (tag === 8) c.info(`+UPSND: ${index},8,${profile.active ? 1 : 0}`);
    else throw new CmeError(CME.OPERATION_NOT_SUPPORTED, `+UPSND parameter ${tag} is not emulated`);
  },
});

const usocr = byForm({
  test: (c) => c.info("+USOCR: (6,17),(1-65535)"),
  set: (c, params) => {
    expectParamCount(params, 1, 3);
    const protocol = integerParam(params, 0, 0, 255);
    optionalIntegerParam(params, 1, 0, 65535);
    if (protocol !== 6) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "only TCP (6) is emulated");
    const table = sockets(c.modem);
    let id = 0;
    while (table.has(id)) id++;
    if (id >= MAX_SOCKETS) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "no free socket");
    table.set(id, { id, connection: undefined, connecting: false, host: "", port: 0, notified: false, peerClosed: false, closeAnnounced: false, lastError: 0 });
    c.info(`+USOCR: ${id}`);
  },
});

const usoco = byForm({
  set: async (c, params) => {
    expectParamCount(params, 3, 4);
    const modem = c.modem;
    const socket = existing(modem, integerParam(params, 0, 0, 255));
    const host = stringParam(params, 1);
    const port = integerParam(params, 2, 1, 65535);
    const asynchronous = (optionalIntegerParam(params, 3, 0, 1) ?? 0) === 1;
    if (socket.connection || socket.connecting) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "already connected");
    if (!profiles(modem).some((p) => p.active)) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "no active PSD profile");
    tcpStackOf(modem);
    socket.host = host;
    socket.port = port;
    socket.connecting = true;
    if (asynchronous) {
      c.afterFinalResult(() => {
        void connect(modem, socket).then((code) => {
          if (sockets(modem).get(socket.id) === socket || code !== 0) urc(modem, `+UUSOCO: ${socket.id},${code}`);
        });
      });
      return;
    }
    const code = await connect(modem, socket);
    if (code !== 0) throw new CmeError(CME.OPERATION_NOT_ALLOWED, `connect failed with socket error ${code}`);
  },
});

async function writeBinary(c: CommandContext, socket: UbloxSocket, length: number): Promise<void> {
  c.raw(Uint8Array.of(0x40)); // "@"
  const prompted = c.modem.platform.now();
  const data = await c.readData(length, DATA_TIMEOUT_MS);
  // Data that was complete before the pause was over started too early: the module loses it.
  if (c.modem.platform.now() - prompted < PROMPT_PAUSE_MS) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "data came sooner than 50 ms after the @ prompt");
  if (!socket.connection || socket.peerClosed) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "not connected");
  socket.connection.write(data);
  c.info(`+USOWR: ${socket.id},${data.length}`);
}

const usowr = byForm({
  set: async (c, params) => {
    expectParamCount(params, 2, 3);
    const socket = existing(c.modem, integerParam(params, 0, 0, 255));
    const length = integerParam(params, 1, 1, 100000);
    if (!socket.connection || socket.peerClosed) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "not connected");
    const hex = settings(c.modem).hex;
    if (params.length === 3) {
      if (!hex) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "data inline needs hex mode (AT+UDCONF=1,1)");
      if (length > MAX_HEX) throw new CmeError(CME.INCORRECT_PARAMETERS, `hex mode takes at most ${MAX_HEX} bytes`);
      const data = bytesOfHex(stringParam(params, 2));
      if (data.length !== length) throw new CmeError(CME.INCORRECT_PARAMETERS, "length does not match the data");
      socket.connection.write(data);
      c.info(`+USOWR: ${socket.id},${data.length}`);
      return;
    }
    if (hex) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "hex mode is on: give the data as hex");
    if (length > MAX_BINARY) throw new CmeError(CME.INCORRECT_PARAMETERS, `at most ${MAX_BINARY} bytes per write`);
    await writeBinary(c, socket, length);
  },
});

const usord = byForm({
  set: (c, params) => {
    expectParamCount(params, 2, 2);
    const modem = c.modem;
    const socket = existing(modem, integerParam(params, 0, 0, 255));
    const wanted = integerParam(params, 1, 0, 100000);
    const connection = socket.connection;
    if (!connection) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "not connected");
    if (wanted === 0) {
      c.info(`+USORD: ${socket.id},${connection.available}`);
      return;
    }
    const hex = settings(modem).hex;
    if (wanted > (hex ? MAX_HEX : MAX_BINARY)) throw new CmeError(CME.INCORRECT_PARAMETERS, "read length too large");
    const data = connection.read(wanted);
    socket.notified = false;
    if (hex) c.info(`+USORD: ${socket.id},${data.length},"${hexOf(data)}"`);
    else {
      c.raw(Uint8Array.from(`\r\n+USORD: ${socket.id},${data.length},"`, (ch) => ch.charCodeAt(0)));
      c.raw(data);
      c.raw(Uint8Array.of(0x22, 0x0d, 0x0a)); // closing quote, CR LF
    }
    c.afterFinalResult(() => {
      if (connection.available > 0) connection.onData?.();
      else announceCloseIfDrained(modem, socket);
    });
  },
});

const usocl = byForm({
  set: (c, params) => {
    expectParamCount(params, 1, 2);
    const modem = c.modem;
    const socket = existing(modem, integerParam(params, 0, 0, 255));
    const asynchronous = (optionalIntegerParam(params, 1, 0, 1) ?? 0) === 1;
    socket.closeAnnounced = true;
    dropSocket(modem, socket);
    if (asynchronous) c.afterFinalResult(() => urc(modem, `+UUSOCL: ${socket.id}`));
  },
});

const usoer = byForm({ action: (c) => c.info(`+USOER: ${settings(c.modem).lastError}`) });

const udconf = byForm({
  set: (c, params) => {
    expectParamCount(params, 1, 2);
    const op = integerParam(params, 0, 0, 100);
    if (op !== 1) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, `+UDCONF=${op} is not emulated`);
    if (params.length === 1) c.info(`+UDCONF: 1,${settings(c.modem).hex ? 1 : 0}`);
    else settings(c.modem).hex = integerParam(params, 1, 0, 1) === 1;
  },
});

const upsv = byForm({
  read: (c) => c.info(`+UPSV: ${settings(c.modem).upsv}`),
  set: (c, params) => {
    expectParamCount(params, 1, 2);
    settings(c.modem).upsv = integerParam(params, 0, 0, 4);
  },
});

/** AT+CFUN with u-blox's restart levels 15 (module and SIM) and 16 (module only). */
const cfun: CommandHandler = (c, command) => {
  if (command.form === "set" && /^\s*1[56]\s*$/.test(command.args)) {
    const modem = c.modem;
    c.afterFinalResult(() => void modem.reset());
    return;
  }
  return genericCommands["+CFUN"]!(c, command);
};

export const ubloxSaraR5Dialect: ModemDialect = {
  name: NAME,
  summary: "u-blox SARA-R5: UPSD/UPSDA, USOCR, USOCO, USOWR (@ prompt), USORD, USOCL, +UUSORD",
  identity: { manufacturer: "u-blox", model: "SARA-R510S", revision: "03.15" },
  limits: { send: MAX_BINARY, read: MAX_BINARY },
  commands: {
    "+UPSD": upsd,
    "+UPSDA": upsda,
    "+UPSND": upsnd,
    "+USOCR": usocr,
    "+USOCO": usoco,
    "+USOWR": usowr,
    "+USORD": usord,
    "+USOCL": usocl,
    "+USOER": usoer,
    "+UDCONF": udconf,
    "+UPSV": upsv,
    "+CFUN": cfun,
  },
  onReset(modem) {
    for (const socket of [...sockets(modem).values()]) dropSocket(modem, socket);
    for (const profile of profiles(modem)) profile.active = false;
    settings(modem).hex = false;
  },
  dropDataContext(modem) {
    profiles(modem).forEach((profile, index) => {
      if (!profile.active) return;
      profile.active = false;
      for (const socket of [...sockets(modem).values()]) dropSocket(modem, socket);
      urc(modem, `+UUPSDD: ${index}`);
    });
  },
};
