/**
 * `quectel-bg95`: Quectel BG95/BG96/BG77 as modems.md §2.1 documents them. Data context through
 * AT+QICSGP/AT+QIACT (URC `+QIURC: "pdpdeact",<ctx>` when the network drops it); TCP in buffer
 * access mode only (access_mode 0; the push modes are refused):
 *   AT+QIOPEN=1,<id>,"TCP","<host>",<port>,0,0 → OK, then `+QIOPEN: <id>,<err>`
 *   AT+QISEND=<id>,<len ≤1460> → `> ` → <len bytes> → SEND OK | SEND FAIL (send buffer full)
 *   `+QIURC: "recv",<id>` once, until AT+QIRD finds the buffer empty
 *   AT+QIRD=<id>,<n ≤1500> → `+QIRD: <k>\r\n<k bytes>\r\n\r\nOK`; AT+QIRD=<id>,0 → `+QIRD: <total>,<read>,<unread>`
 *   AT+QICLOSE=<id>; `+QIURC: "closed",<id>` when the peer closes; AT+QISTATE
 * Boot prints RDY and APP RDY; AT+CFUN=1,1 restarts. ICCID through AT+QCCID (no AT+CCID).
 */
import type { AtParameter } from "../at-syntax.js";
import { byForm, type CommandContext, type CommandHandler, expectParamCount, integerParam, optionalIntegerParam, stringParam } from "../commands.js";
import type { ModemDialect } from "../dialects.js";
import { AtSyntaxError, CME, CmeError } from "../errors.js";
import type { VirtualModem } from "../virtual-modem.js";
import { bytesOfHex, socketTable, tcpStackOf, type VirtualConnection, VirtualConnectError, VIRTUAL_IP_ADDRESS } from "./network.js";

const NAME = "quectel-bg95";
const MAX_SEND = 1460;
const MAX_READ = 1500;
/** Unsent bytes above which AT+QISEND answers SEND FAIL (the modem's send buffer is full). */
const SEND_BUFFER = 16 * 1024;
/** How long the modem waits for the data after its `> ` prompt. */
const DATA_TIMEOUT_MS = 20000;
const CONNECT_TIMEOUT_MS = 15000;

/** Quectel TCP/IP error codes used in `+QIOPEN: <id>,<err>`. */
const ERR = { DNS_PARSE_FAILED: 565, CONNECT_FAILED: 566, TIMEOUT: 569, PDP_BROKEN: 570, OPEN_PDP_FAILED: 561, ID_USED: 563 } as const;

interface Context {
  apn: string;
  user: string;
  password: string;
  auth: number;
  active: boolean;
}

interface QuectelSocket {
  id: number;
  context: number;
  host: string;
  port: number;
  connection: VirtualConnection | undefined;
  /** 1 opening, 2 connected, 4 closing (the peer closed; data may remain). */
  state: 1 | 2 | 4;
  /** A "recv" URC went out and the buffer has not been found empty since. */
  notified: boolean;
  bytesRead: number;
}

function contexts(modem: VirtualModem): Map<number, Context> {
  return modem.extension(`${NAME}.contexts`, () => new Map<number, Context>());
}

function sockets(modem: VirtualModem): Map<number, QuectelSocket> {
  return socketTable<QuectelSocket>(modem, NAME);
}

function contextOf(modem: VirtualModem, id: number): Context {
  const table = contexts(modem);
  let context = table.get(id);
  if (!context) {
    context = { apn: "", user: "", password: "", auth: 0, active: false };
    table.set(id, context);
  }
  return context;
}

function urc(modem: VirtualModem, line: string): void {
  modem.broadcast(() => line);
}

function dropSocket(modem: VirtualModem, socket: QuectelSocket): void {
  socket.connection?.close();
  sockets(modem).delete(socket.id);
}

function connectedSocket(modem: VirtualModem, id: number): QuectelSocket {
  const socket = sockets(modem).get(id);
  if (!socket || socket.state === 1) throw new AtSyntaxError(`connectID ${id} is not open`);
  return socket;
}

function onData(modem: VirtualModem, socket: QuectelSocket): void {
  if (sockets(modem).get(socket.id) !== socket || socket.notified) return;
  socket.notified = true;
  urc(modem, `+QIURC: "recv",${socket.id}`);
}

function attachConnection(modem: VirtualModem, socket: QuectelSocket, connection: VirtualConnection): void {
  socket.connection = connection;
  socket.state = 2;
  connection.onData = () => onData(modem, socket);
  connection.onPeerClose = () => {
    if (sockets(modem).get(socket.id) !== socket || socket.state === 4) return;
    socket.state = 4;
    urc(modem, `+QIURC: "closed",${socket.id}`);
  };
  if (connection.available > 0) onData(modem, socket);
  if (connection.peerClosed) connection.onPeerClose();
}

async function connect(modem: VirtualModem, socket: QuectelSocket): Promise<void> {
  let code = 0;
  try {
    const connection = await tcpStackOf(modem).connect(socket.host, socket.port, CONNECT_TIMEOUT_MS);
    if (sockets(modem).get(socket.id) !== socket) {
      connection.close(); // closed or reset meanwhile
      return;
    }
    attachConnection(modem, socket, connection);
  } catch (error) {
    if (sockets(modem).get(socket.id) !== socket) return;
    const reason = error instanceof VirtualConnectError ? error.reason : "refused";
    code = reason === "dns" ? ERR.DNS_PARSE_FAILED : reason === "timeout" ? ERR.TIMEOUT : ERR.CONNECT_FAILED;
    modem.platform.log("debug", "modem", `QIOPEN ${socket.id}: ${(error as Error).message}`);
    // A failed id stays allocated until AT+QICLOSE, as on the real modem.
  }
  urc(modem, `+QIOPEN: ${socket.id},${code}`);
}

function checkContextId(params: AtParameter[], index: number): number {
  return integerParam(params, index, 1, 16);
}

const qicsgp = byForm({
  test: (c) => c.info('+QICSGP: (1-16),(1-3),"APN","USERNAME","PASSWORD",(0-3)'),
  set: (c, params) => {
    expectParamCount(params, 1, 6);
    const id = checkContextId(params, 0);
    const context = contextOf(c.modem, id);
    if (params.length === 1) {
      c.info(`+QICSGP: 1,"${context.apn}","${context.user}","${context.password}",${context.auth}`);
      return;
    }
    integerParam(params, 1, 1, 3);
    const apn = params[2]?.value ?? "";
    if (apn.length > 100) throw new CmeError(CME.INCORRECT_PARAMETERS, "APN too long");
    context.apn = apn;
    context.user = params[3]?.value ?? "";
    context.password = params[4]?.value ?? "";
    context.auth = optionalIntegerParam(params, 5, 0, 3) ?? 0;
  },
});

const qiact = byForm({
  test: (c) => c.info("+QIACT: (1-16)"),
  read: (c) => {
    for (const [id, context] of [...contexts(c.modem)].sort((a, b) => a[0] - b[0])) {
      if (context.active) c.info(`+QIACT: ${id},1,1,"${VIRTUAL_IP_ADDRESS}"`);
    }
  },
  set: (c, params) => {
    expectParamCount(params, 1, 1);
    const context = contextOf(c.modem, checkContextId(params, 0));
    // Activating an active context, without registration, or for a refused APN: ERROR.
    if (context.active) throw new AtSyntaxError("context already active");
    if (!c.modem.registered) throw new AtSyntaxError("not registered");
    if (c.modem.network.refusedApns.includes(context.apn)) throw new AtSyntaxError(`APN ${context.apn} refused by the network`);
    context.active = true;
  },
});

const qideact = byForm({
  test: (c) => c.info("+QIDEACT: (1-16)"),
  set: (c, params) => {
    expectParamCount(params, 1, 1);
    const id = checkContextId(params, 0);
    contextOf(c.modem, id).active = false;
    for (const socket of [...sockets(c.modem).values()]) if (socket.context === id) dropSocket(c.modem, socket);
  },
});

const qiopen = byForm({
  test: (c) => c.info('+QIOPEN: (1-16),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE","<IP_address>/<domain_name>",<remote_port>,<local_port>,(0-2)'),
  set: (c, params) => {
    expectParamCount(params, 5, 7);
    const contextId = checkContextId(params, 0);
    const id = integerParam(params, 1, 0, 11);
    const service = stringParam(params, 2);
    const host = stringParam(params, 3);
    const port = integerParam(params, 4, 0, 65535);
    optionalIntegerParam(params, 5, 0, 65535);
    const accessMode = optionalIntegerParam(params, 6, 0, 2) ?? 0;
    if (service !== "TCP") throw new CmeError(CME.OPERATION_NOT_SUPPORTED, `service type ${service} is not emulated (TCP only)`);
    if (accessMode !== 0) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "only buffer access mode (0) is emulated");
    if (host.length === 0 || host.length > 150) throw new CmeError(CME.INCORRECT_PARAMETERS, "host");
    const modem = c.modem;
    const table = sockets(modem);
    // Results come as a URC after OK, also for failures.
    if (table.has(id)) {
      c.afterFinalResult(() => urc(modem, `+QIOPEN: ${id},${ERR.ID_USED}`));
      return;
    }
    if (!contextOf(modem, contextId).active) {
      c.afterFinalResult(() => urc(modem, `+QIOPEN: ${id},${ERR.OPEN_PDP_FAILED}`));
      return;
    }
    tcpStackOf(modem);
    const socket: QuectelSocket = { id, context: contextId, host, port, connection: undefined, state: 1, notified: false, bytesRead: 0 };
    table.set(id, socket);
    c.afterFinalResult(() => void connect(modem, socket));
  },
});

async function sendData(c: CommandContext, socket: QuectelSocket, length: number): Promise<void> {
  c.raw(Uint8Array.of(0x3e, 0x20)); // "> " without a line ending
  const data = await c.readData(length, DATA_TIMEOUT_MS);
  if (socket.state !== 2 || !socket.connection) throw new AtSyntaxError("socket closed while sending");
  if (socket.connection.unsent > SEND_BUFFER) {
    c.setFinalResult("SEND FAIL");
    return;
  }
  socket.connection.write(data);
  c.setFinalResult("SEND OK");
}

const qisend = byForm({
  test: (c) => c.info(`+QISEND: (0-11),(0-${MAX_SEND})`),
  set: async (c, params) => {
    expectParamCount(params, 1, 2);
    const id = integerParam(params, 0, 0, 11);
    const length = optionalIntegerParam(params, 1, 0, 100000);
    const socket = connectedSocket(c.modem, id);
    if (length === undefined) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "Ctrl-Z terminated sending is not emulated; give a length");
    if (length === 0) {
      const connection = socket.connection!;
      const sent = connection.bytesSent;
      c.info(`+QISEND: ${sent},${sent - connection.unsent},${connection.unsent}`);
      return;
    }
    if (length > MAX_SEND) throw new AtSyntaxError(`length ${length} exceeds ${MAX_SEND}`);
    if (socket.state !== 2) throw new AtSyntaxError("the peer closed the connection");
    await sendData(c, socket, length);
  },
});

const qisendex = byForm({
  set: (c, params) => {
    expectParamCount(params, 2, 3);
    const socket = connectedSocket(c.modem, integerParam(params, 0, 0, 11));
    const data = bytesOfHex(stringParam(params, 1));
    if (data.length === 0 || data.length > 512) throw new CmeError(CME.INCORRECT_PARAMETERS, "hex data of 1..512 bytes");
    if (socket.state !== 2 || !socket.connection) throw new AtSyntaxError("not connected");
    if (socket.connection.unsent > SEND_BUFFER) {
      c.setFinalResult("SEND FAIL");
      return;
    }
    socket.connection.write(data);
    c.setFinalResult("SEND OK");
  },
});

const qird = byForm({
  test: (c) => c.info(`+QIRD: (0-11),(0-${MAX_READ})`),
  set: (c, params) => {
    expectParamCount(params, 1, 2);
    const id = integerParam(params, 0, 0, 11);
    const wanted = optionalIntegerParam(params, 1, 0, 100000) ?? MAX_READ;
    const socket = connectedSocket(c.modem, id);
    const connection = socket.connection!;
    if (wanted === 0) {
      c.info(`+QIRD: ${socket.bytesRead + connection.available},${socket.bytesRead},${connection.available}`);
      return;
    }
    if (wanted > MAX_READ) throw new AtSyntaxError(`read length ${wanted} exceeds ${MAX_READ}`);
    const data = connection.read(wanted);
    socket.bytesRead += data.length;
    c.info(`+QIRD: ${data.length}`);
    if (data.length > 0) {
      c.raw(data);
      c.raw(Uint8Array.of(0x0d, 0x0a));
    } else {
      // Drained: the next arrival is announced again.
      socket.notified = false;
    }
  },
});

const qiclose = byForm({
  test: (c) => c.info("+QICLOSE: (0-11),(0-65535)"),
  set: (c, params) => {
    expectParamCount(params, 1, 2);
    const id = integerParam(params, 0, 0, 11);
    optionalIntegerParam(params, 1, 0, 65535);
    const socket = sockets(c.modem).get(id);
    if (socket) dropSocket(c.modem, socket);
  },
});

function stateLine(socket: QuectelSocket): string {
  const local = socket.connection?.localPort ?? 0;
  return `+QISTATE: ${socket.id},"TCP","${socket.host}",${socket.port},${local},${socket.state},${socket.context},0,0,"uart1"`;
}

const qistate: CommandHandler = byForm({
  action: (c) => {
    for (const socket of [...sockets(c.modem).values()].sort((a, b) => a.id - b.id)) c.info(stateLine(socket));
  },
  read: (c) => {
    for (const socket of [...sockets(c.modem).values()].sort((a, b) => a.id - b.id)) c.info(stateLine(socket));
  },
  set: (c, params) => {
    expectParamCount(params, 2, 2);
    const kind = integerParam(params, 0, 0, 1);
    const value = integerParam(params, 1, 0, 16);
    for (const socket of [...sockets(c.modem).values()].sort((a, b) => a.id - b.id)) {
      if ((kind === 0 && socket.context === value) || (kind === 1 && socket.id === value)) c.info(stateLine(socket));
    }
  },
});

const qcfg = byForm({
  set: (c, params) => {
    expectParamCount(params, 1, 4);
    const setting = stringParam(params, 0);
    const store = c.modem.extension(`${NAME}.qcfg`, () => new Map<string, string>());
    if (params.length === 1) {
      c.info(`+QCFG: "${setting}",${store.get(setting) ?? "0"}`);
      return;
    }
    store.set(setting, params.slice(1).map((p) => p.value).join(","));
  },
});

const notSupported: CommandHandler = (_c, command) => {
  throw new AtSyntaxError(`${command.name} is not a Quectel command`);
};

export const quectelBg95Dialect: ModemDialect = {
  name: NAME,
  summary: "Quectel BG95/BG96/BG77: QICSGP/QIACT, QIOPEN, QISEND, QIRD, QICLOSE, +QIURC (buffer access mode)",
  identity: { manufacturer: "Quectel", model: "BG95-M3", revision: "BG95M3LAR02A03" },
  bootUrcs: ["RDY", "APP RDY"],
  limits: { send: MAX_SEND, read: MAX_READ },
  commands: {
    "+QICSGP": qicsgp,
    "+QIACT": qiact,
    "+QIDEACT": qideact,
    "+QIOPEN": qiopen,
    "+QISEND": qisend,
    "+QISENDEX": qisendex,
    "+QIRD": qird,
    "+QICLOSE": qiclose,
    "+QISTATE": qistate,
    "+QCFG": qcfg,
    "+CCID": notSupported,
    "+ICCID": notSupported,
  },
  onReset(modem) {
    for (const socket of [...sockets(modem).values()]) dropSocket(modem, socket);
    contexts(modem).clear();
  },
  dropDataContext(modem) {
    for (const [id, context] of contexts(modem)) {
      if (!context.active) continue;
      context.active = false;
      for (const socket of [...sockets(modem).values()]) if (socket.context === id) dropSocket(modem, socket);
      urc(modem, `+QIURC: "pdpdeact",${id}`);
    }
  },
};
