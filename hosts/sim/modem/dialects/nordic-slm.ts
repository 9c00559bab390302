/**
 * `nordic-slm`: an nRF91 running the Serial LTE Modem application (modems.md §2.4; the socket
 * commands as the NCS 2.x SLM implements them). Command lines end with CR LF (a lone CR is not a
 * terminator), no echo and no basic commands (ATE0 → ERROR),
 * `Ready` (no leading CR LF) at boot, CFUN=0 at power-on with the UICC off (SIM commands answer
 * +CME ERROR: 13 until CFUN=41/1/4), cid 0 is the default bearer. Sockets act on the current one:
 *   AT#XSOCKET=1,1,0 → `#XSOCKET: <handle>,1,6` (becomes current); AT#XSOCKET=0 → `#XSOCKET: 0,"closed"`
 *   AT#XSOCKETSELECT=<handle> → `#XSOCKETSELECT: <handle>`
 *   AT#XCONNECT="<host>",<port> → `#XCONNECT: 1` (ERROR when it fails)
 *   AT#XSEND="<text>" → `#XSEND: <n>`; AT#XSEND → OK → data mode until the first `+++` → `#XDATAMODE: 0`
 *     (URCs are dropped in data mode; a partial `+`/`++` left at the end counts as data after 1 s)
 *   AT#XPOLL=<ms>[,<handle>...] → `#XPOLL: <handle>,"0x%04x"` per ready socket (POLLIN 1, POLLHUP 0x10)
 *   AT#XRECV=<timeout s>[,<flags>] → `#XRECV: <n>` CR LF <n ≤2048 bytes> CR LF OK; OK alone when the
 *     peer closed; ERROR when nothing came in time (flags 0x40 MSG_DONTWAIT: at once)
 * AT+CESQ instead of AT+CSQ, AT%XICCID instead of AT+CCID, AT#XRESET restarts.
 */
import type { AtParameter } from "../at-syntax.js";
import { byForm, type CommandContext, type CommandHandler, expectParamCount, integerParam, optionalIntegerParam, stringParam } from "../commands.js";
import type { ModemDialect } from "../dialects.js";
import { AtSyntaxError, CME, CmeError } from "../errors.js";
import { genericCommands } from "../generic-commands.js";
import type { RawSink, VirtualModem } from "../virtual-modem.js";
import { socketTable, tcpStackOf, type VirtualConnection } from "./network.js";

const NAME = "nordic-slm";
/** The SLM's receive buffer (NRF_SOCKET_TLS_MAX_MESSAGE_SIZE). */
const RECV_BUFFER = 2048;
/** SLM_MAX_PAYLOAD_SIZE: the longest text of AT#XSEND="...". */
const MAX_TEXT = 1024;
const MAX_SOCKETS = 8;
const TERMINATOR = [0x2b, 0x2b, 0x2b]; // "+++"
/** After this long without input, data mode sends what it holds (a partial terminator included). */
const DATAMODE_IDLE_MS = 1000;
const MSG_DONTWAIT = 0x40;
const POLLIN = 0x0001;
const POLLHUP = 0x0010;
/** Functional modes that keep the UICC powered. */
const UICC_ON = new Set([1, 4, 21, 31, 41, 44]);
const SIM_COMMANDS = new Set(["+CPIN", "+CSIM", "+CGLA", "+CCHO", "+CCHC", "+CRSM", "+CIMI", "%XICCID"]);

interface SlmSocket {
  handle: number;
  ranking: number;
  connection: VirtualConnection | undefined;
  host: string;
  port: number;
}

interface SlmState {
  current: number | undefined;
  nextRanking: number;
}

function sockets(modem: VirtualModem): Map<number, SlmSocket> {
  return socketTable<SlmSocket>(modem, NAME);
}

function state(modem: VirtualModem): SlmState {
  return modem.extension(`${NAME}.state`, () => ({ current: undefined, nextRanking: 1 }));
}

function current(modem: VirtualModem): SlmSocket {
  const handle = state(modem).current;
  const socket = handle === undefined ? undefined : sockets(modem).get(handle);
  if (!socket) throw new AtSyntaxError("no current socket");
  return socket;
}

/** After a close the most recently opened socket becomes current (get_active_socket). */
function pickCurrent(modem: VirtualModem): void {
  let best: SlmSocket | undefined;
  for (const socket of sockets(modem).values()) if (!best || socket.ranking > best.ranking) best = socket;
  state(modem).current = best?.handle;
}

function closeSocket(modem: VirtualModem, socket: SlmSocket): void {
  socket.connection?.close();
  sockets(modem).delete(socket.handle);
  if (state(modem).current === socket.handle) pickCurrent(modem);
}

/** The UICC must be powered for SIM commands. */
function requireUicc(c: CommandContext): void {
  if (!UICC_ON.has(c.modem.functionality)) throw new CmeError(CME.SIM_FAILURE, "the UICC is off (CFUN=0)");
}

function withUicc(name: string): CommandHandler {
  const inner = genericCommands[name]!;
  return (c, command) => {
    if (command.form !== "test") requireUicc(c);
    return inner(c, command);
  };
}

const refuseBasic: CommandHandler = (_c, command) => {
  throw new AtSyntaxError(`the SLM takes only AT, AT+, AT% and AT# commands, not ${command.name}`);
};

const xsocket = byForm({
  read: (c) => {
    const handle = state(c.modem).current;
    if (handle !== undefined && sockets(c.modem).has(handle)) c.info(`#XSOCKET: ${handle},1,0,1,0`);
  },
  test: (c) => c.info("#XSOCKET: (0,1,2),(1,2,3),(0,1),<cid>"),
  set: (c, params) => {
    expectParamCount(params, 1, 4);
    const op = integerParam(params, 0, 0, 2);
    const modem = c.modem;
    if (op === 0) {
      const handle = state(modem).current;
      const socket = handle === undefined ? undefined : sockets(modem).get(handle);
      if (socket) closeSocket(modem, socket);
      c.info(`#XSOCKET: 0,"closed"`);
      return;
    }
    const type = integerParam(params, 1, 1, 3);
    const role = integerParam(params, 2, 0, 1);
    optionalIntegerParam(params, 3, 0, 10);
    if (op !== 1 || type !== 1 || role !== 0) throw new AtSyntaxError("only IPv4 TCP client sockets are emulated");
    const table = sockets(modem);
    let handle = 0;
    while (table.has(handle)) handle++;
    if (handle >= MAX_SOCKETS) throw new AtSyntaxError("max socket count reached");
    const slm = state(modem);
    table.set(handle, { handle, ranking: slm.nextRanking++, connection: undefined, host: "", port: 0 });
    slm.current = handle;
    c.info(`#XSOCKET: ${handle},1,6`);
  },
});

const xsocketselect = byForm({
  read: (c) => {
    for (const socket of [...sockets(c.modem).values()].sort((a, b) => a.handle - b.handle)) c.info(`#XSOCKETSELECT: ${socket.handle},1,0,1,-1,${socket.ranking},0`);
    const handle = state(c.modem).current;
    if (handle !== undefined) c.info(`#XSOCKETSELECT: ${handle}`);
  },
  set: (c, params) => {
    expectParamCount(params, 1, 1);
    const handle = integerParam(params, 0, 0, 255);
    if (!sockets(c.modem).has(handle)) throw new AtSyntaxError(`no socket ${handle}`);
    state(c.modem).current = handle;
    c.info(`#XSOCKETSELECT: ${handle}`);
  },
});

const xconnect = byForm({
  set: async (c, params) => {
    expectParamCount(params, 2, 2);
    const socket = current(c.modem);
    const host = stringParam(params, 0);
    const port = integerParam(params, 1, 1, 65535);
    if (socket.connection) throw new AtSyntaxError("already connected");
    if (!c.modem.registered) throw new AtSyntaxError("not attached");
    try {
      socket.connection = await tcpStackOf(c.modem).connect(host, port, 15000);
    } catch (error) {
      throw new AtSyntaxError(`connect failed: ${(error as Error).message}`);
    }
    socket.host = host;
    socket.port = port;
    c.info("#XCONNECT: 1");
  },
});

/** The data-mode reader: everything up to the first "+++" goes to the socket. */
function dataMode(c: CommandContext, socket: SlmSocket): RawSink {
  const platform = c.modem.platform;
  let matched = 0;
  let idle: ReturnType<typeof platform.setTimer> | undefined;
  const send = (bytes: number[]): void => {
    if (bytes.length > 0) socket.connection?.write(Uint8Array.from(bytes));
  };
  return (input) => {
    if (idle !== undefined) platform.clearTimer(idle);
    idle = undefined;
    const out: number[] = [];
    for (let i = 0; i < input.length; i++) {
      const byte = input[i]!;
      if (byte === TERMINATOR[matched]) {
        matched++;
        if (matched === TERMINATOR.length) {
          send(out);
          c.raw(Uint8Array.from("\r\n#XDATAMODE: 0\r\n", (ch) => ch.charCodeAt(0)));
          return { consumed: i + 1, done: true };
        }
        continue;
      }
      // A partial terminator followed by something else was data (the terminator is all '+', so
      // this byte is not a '+').
      for (let k = 0; k < matched; k++) out.push(TERMINATOR[k]!);
      matched = 0;
      out.push(byte);
    }
    send(out);
    if (matched > 0) {
      idle = platform.setTimer(() => {
        idle = undefined;
        send(TERMINATOR.slice(0, matched));
        matched = 0;
      }, DATAMODE_IDLE_MS);
    }
    return { consumed: input.length, done: false };
  };
}

const xsend = byForm({
  action: (c) => {
    const socket = current(c.modem);
    if (!socket.connection || socket.connection.peerClosed) throw new AtSyntaxError("not connected");
    const port = c.port;
    c.afterFinalResult(() => port.startRawSink(dataMode(c, socket)));
  },
  set: (c, params) => {
    expectParamCount(params, 1, 2);
    const socket = current(c.modem);
    const text = params[0]!;
    optionalIntegerParam(params, 1, 0, 255);
    if (!socket.connection || socket.connection.peerClosed) throw new AtSyntaxError("not connected");
    if (text.value === "") {
      const port = c.port;
      c.afterFinalResult(() => port.startRawSink(dataMode(c, socket)));
      return;
    }
    if (text.value.length > MAX_TEXT) throw new AtSyntaxError(`more than ${MAX_TEXT} characters`);
    socket.connection.write(Uint8Array.from(text.value, (ch) => ch.charCodeAt(0) & 0xff));
    c.info(`#XSEND: ${text.value.length}`);
  },
});

function waitForData(c: CommandContext, connection: VirtualConnection, timeoutMs: number): Promise<void> {
  if (connection.available > 0 || connection.peerClosed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const previousData = connection.onData;
    const previousClose = connection.onPeerClose;
    const done = (): void => {
      c.modem.platform.clearTimer(timer);
      connection.onData = previousData;
      connection.onPeerClose = previousClose;
      resolve();
    };
    const timer = c.modem.platform.setTimer(done, timeoutMs);
    connection.onData = done;
    connection.onPeerClose = done;
  });
}

const xrecv = byForm({
  set: async (c, params) => {
    expectParamCount(params, 1, 2);
    const timeout = integerParam(params, 0, 0, 600);
    const flags = optionalIntegerParam(params, 1, 0, 0xffff) ?? 0;
    const socket = current(c.modem);
    const connection = socket.connection;
    if (!connection) throw new AtSyntaxError("not connected");
    if ((flags & MSG_DONTWAIT) === 0) await waitForData(c, connection, (timeout === 0 ? 600 : timeout) * 1000);
    const data = connection.read(RECV_BUFFER);
    if (data.length > 0) {
      c.info(`#XRECV: ${data.length}`);
      c.raw(data);
      return;
    }
    // recv() returning 0 means the peer closed: OK with nothing. Otherwise the receive timed out.
    if (!connection.peerClosed) throw new AtSyntaxError("nothing received in time");
  },
});

function pollLine(socket: SlmSocket): string | undefined {
  const connection = socket.connection;
  if (!connection) return undefined;
  const revents = (connection.available > 0 || connection.peerClosed ? POLLIN : 0) | (connection.peerClosed ? POLLHUP : 0);
  return revents === 0 ? undefined : `#XPOLL: ${socket.handle},"0x${revents.toString(16).padStart(4, "0")}"`;
}

const xpoll = byForm({
  set: async (c, params: AtParameter[]) => {
    expectParamCount(params, 1, 1 + MAX_SOCKETS);
    const timeoutMs = integerParam(params, 0, 0, 600000);
    const table = sockets(c.modem);
    const selected: SlmSocket[] = [];
    for (let i = 1; i < params.length; i++) {
      const socket = table.get(integerParam(params, i, 0, 255));
      if (!socket) throw new AtSyntaxError("not an open socket");
      selected.push(socket);
    }
    const watched = params.length > 1 ? selected : [...table.values()];
    const ready = (): string[] => watched.map(pollLine).filter((l): l is string => l !== undefined);
    if (ready().length === 0 && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = c.modem.platform.setTimer(resolve, timeoutMs);
        for (const socket of watched) {
          const connection = socket.connection;
          if (!connection) continue;
          const previous = connection.onData;
          connection.onData = () => {
            connection.onData = previous;
            c.modem.platform.clearTimer(timer);
            resolve();
          };
        }
      });
    }
    for (const line of ready()) c.info(line);
  },
});

/** +CFUN with the nRF91 levels (0, 1, 4, 20/21, 30/31, 40/41, 44). */
const cfun = byForm({
  read: (c) => c.info(`+CFUN: ${c.modem.functionality}`),
  test: (c) => c.info("+CFUN: (0,1,4,20,21,30,31,40,41,44)"),
  set: (c, params) => {
    expectParamCount(params, 1, 1);
    const level = integerParam(params, 0, 0, 44);
    if (![0, 1, 4, 20, 21, 30, 31, 40, 41, 44].includes(level)) throw new CmeError(CME.INCORRECT_PARAMETERS, `AT+CFUN=${level}`);
    c.modem.setFunctionality(level);
  },
});

/** +CGDCONT with cid 0, the default bearer. */
const cgdcont = byForm({
  read: (c) => {
    for (const ctx of [...c.modem.pdpContexts.values()].sort((a, b) => a.cid - b.cid)) c.info(`+CGDCONT: ${ctx.cid},"${ctx.type}","${ctx.apn}","",0,0`);
  },
  test: (c) => c.info('+CGDCONT: (0-10),("IP","IPV6","IPV4V6","Non-IP")'),
  set: (c, params) => {
    expectParamCount(params, 1, 12);
    const cid = integerParam(params, 0, 0, 10);
    if (params.length === 1) {
      c.modem.pdpContexts.delete(cid);
      return;
    }
    const type = stringParam(params, 1).toUpperCase();
    if (!["IP", "IPV6", "IPV4V6", "NON-IP"].includes(type)) throw new CmeError(CME.INCORRECT_PARAMETERS, "PDP type");
    c.modem.pdpContexts.set(cid, { cid, type, apn: params[2]?.value ?? "" });
  },
});

const cesq = byForm({
  action: (c) => c.info(c.modem.registered ? "+CESQ: 99,99,255,255,24,41" : "+CESQ: 99,99,255,255,255,255"),
  test: (c) => c.info("+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)"),
});

const basics: Record<string, CommandHandler> = {};
for (const name of ["E", "V", "Q", "Z", "&F", "I"]) basics[name] = refuseBasic;

export const nordicSlmDialect: ModemDialect = {
  name: NAME,
  summary: "nRF91 Serial LTE Modem: #XSOCKET, #XCONNECT, #XSEND (data mode, +++), #XPOLL, #XRECV",
  identity: { manufacturer: "Nordic Semiconductor ASA", model: "nRF9160-SICA", revision: "mfw_nrf9160_1.3.5" },
  bootUrcs: [],
  bootText: "Ready\r\n",
  initialFunctionality: 0,
  defaultBearerCid: 0,
  portDefaults: { echo: false },
  lineTermination: "crlf",
  limits: { send: MAX_TEXT, read: RECV_BUFFER },
  commands: {
    ...basics,
    "#XSOCKET": xsocket,
    "#XSOCKETSELECT": xsocketselect,
    "#XCONNECT": xconnect,
    "#XSEND": xsend,
    "#XRECV": xrecv,
    "#XPOLL": xpoll,
    "#XRESET": byForm({
      action: (c) => {
        const modem = c.modem;
        c.afterFinalResult(() => void modem.reset());
      },
    }),
    "+CFUN": cfun,
    "+CGDCONT": cgdcont,
    "+CESQ": cesq,
    "+CSQ": refuseBasic,
    "+CCID": refuseBasic,
    "+QCCID": refuseBasic,
    "+ICCID": refuseBasic,
    "%XICCID": byForm({
      action: (c) => {
        requireUicc(c);
        c.info(`%XICCID: ${c.modem.identity.iccid}`);
      },
    }),
    ...Object.fromEntries([...SIM_COMMANDS].filter((n) => genericCommands[n]).map((n) => [n, withUicc(n)])),
  },
  install(modem) {
    modem.pdpContexts.delete(1);
    modem.pdpContexts.set(0, { cid: 0, type: "IP", apn: "" });
  },
  onReset(modem) {
    for (const socket of [...sockets(modem).values()]) closeSocket(modem, socket);
    state(modem).current = undefined;
    for (const port of modem.ports) if (port.inDataMode) port.stopRawSink();
  },
};
