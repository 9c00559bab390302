/**
 * `simcom-sim7080`: SIMCom SIM7080G with the CA* socket set, as modems.md §2.2 documents it.
 *   AT+CNCFG=0,1,"<apn>" / AT+CNACT=0,1 → OK, then `+APP PDP: 0,ACTIVE` (DEACTIVE when refused or dropped)
 *   AT+CAOPEN=<cid>,0,"TCP","<host>",<port> → `+CAOPEN: <cid>,<result>` then OK (0 OK, 20 DNS, 21 network not active, 27 connect failed)
 *   AT+CASEND=<cid>,<len ≤1460> → `> ` → <len bytes> → OK
 *   `+CADATAIND: <cid>` when data arrives into an empty buffer
 *   AT+CARECV=<cid>,<len ≤1460> → `+CARECV: <n>,<n bytes>` CR LF OK (real firmware: no `<cid>,` before the length)
 *   AT+CACLOSE=<cid>; `+CASTATE: <cid>,0` when the peer closes
 * Boot prints RDY, +CPIN: READY, SMS Ready, PB DONE; AT+CREBOOT restarts. AT+CCID answers the bare ICCID.
 */
import { byForm, type CommandContext, expectParamCount, integerParam, stringParam } from "../commands.js";
import type { ModemDialect } from "../dialects.js";
import { AtSyntaxError, CME, CmeError } from "../errors.js";
import type { VirtualModem } from "../virtual-modem.js";
import { socketTable, tcpStackOf, type VirtualConnection, VirtualConnectError, VIRTUAL_IP_ADDRESS } from "./network.js";

const NAME = "simcom-sim7080";
const MAX_SEND = 1460;
const MAX_READ = 1460;
const PDP_INDEXES = 4;
const DATA_TIMEOUT_MS = 20000;
const CONNECT_TIMEOUT_MS = 15000;
const RESULT = { OK: 0, DNS: 20, NOT_ACTIVE: 21, CONNECT_FAILED: 27 } as const;

interface AppContext {
  apn: string;
  active: boolean;
}

interface SimcomSocket {
  cid: number;
  pdp: number;
  host: string;
  port: number;
  connection: VirtualConnection;
  peerClosed: boolean;
}

/** Sockets whose data was announced and not drained since. */
const announced = new WeakSet<SimcomSocket>();

function appContexts(modem: VirtualModem): AppContext[] {
  return modem.extension(`${NAME}.pdp`, () => Array.from({ length: PDP_INDEXES }, () => ({ apn: "", active: false })));
}

function sockets(modem: VirtualModem): Map<number, SimcomSocket> {
  return socketTable<SimcomSocket>(modem, NAME);
}

function urc(modem: VirtualModem, line: string): void {
  modem.broadcast(() => line);
}

function dropSocket(modem: VirtualModem, socket: SimcomSocket): void {
  socket.connection.close();
  sockets(modem).delete(socket.cid);
}

function openSocket(modem: VirtualModem, cid: number): SimcomSocket {
  const socket = sockets(modem).get(cid);
  if (!socket) throw new AtSyntaxError(`cid ${cid} is not open`);
  return socket;
}

const cncfg = byForm({
  test: (c) => c.info('+CNCFG: (0-3),(0-3),"APN","USERNAME","PASSWORD",(0-3)'),
  read: (c) => appContexts(c.modem).forEach((ctx, i) => c.info(`+CNCFG: ${i},1,"${ctx.apn}","","",0`)),
  set: (c, params) => {
    expectParamCount(params, 2, 6);
    const index = integerParam(params, 0, 0, PDP_INDEXES - 1);
    integerParam(params, 1, 0, 3);
    const apn = params[2]?.value ?? "";
    if (apn.length > 100) throw new CmeError(CME.INCORRECT_PARAMETERS, "APN too long");
    appContexts(c.modem)[index]!.apn = apn;
  },
});

const cnact = byForm({
  test: (c) => c.info("+CNACT: (0-3),(0-2)"),
  read: (c) => appContexts(c.modem).forEach((ctx, i) => c.info(`+CNACT: ${i},${ctx.active ? 1 : 0},"${ctx.active ? VIRTUAL_IP_ADDRESS : "0.0.0.0"}"`)),
  set: (c, params) => {
    expectParamCount(params, 2, 2);
    const index = integerParam(params, 0, 0, PDP_INDEXES - 1);
    const action = integerParam(params, 1, 0, 2);
    const modem = c.modem;
    const context = appContexts(modem)[index]!;
    if (action === 0) {
      if (!context.active) throw new AtSyntaxError("not active");
      context.active = false;
      for (const socket of [...sockets(modem).values()]) if (socket.pdp === index) dropSocket(modem, socket);
      c.afterFinalResult(() => urc(modem, `+APP PDP: ${index},DEACTIVE`));
      return;
    }
    if (context.active) throw new AtSyntaxError("already active");
    if (!modem.registered) throw new AtSyntaxError("not attached");
    // OK first; the outcome follows as +APP PDP.
    const refused = modem.network.refusedApns.includes(context.apn);
    if (!refused) context.active = true;
    c.afterFinalResult(() => urc(modem, `+APP PDP: ${index},${refused ? "DEACTIVE" : "ACTIVE"}`));
  },
});

const caopen = byForm({
  test: (c) => c.info('+CAOPEN: (0-12),(0-3),"TCP/UDP","<server>",<port>'),
  read: (c) => {
    for (const socket of [...sockets(c.modem).values()].sort((a, b) => a.cid - b.cid)) c.info(`+CAOPEN: ${socket.cid},${socket.pdp},"TCP","${socket.host}",${socket.port}`);
  },
  set: async (c, params) => {
    expectParamCount(params, 5, 6);
    const cid = integerParam(params, 0, 0, 12);
    const pdp = integerParam(params, 1, 0, PDP_INDEXES - 1);
    const type = stringParam(params, 2);
    const host = stringParam(params, 3);
    const port = integerParam(params, 4, 1, 65535);
    if (params.length === 6) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "the recv_mode argument is not emulated"); // failed in TinyGSM tests too
    if (type !== "TCP") throw new CmeError(CME.OPERATION_NOT_SUPPORTED, `${type} is not emulated (TCP only)`);
    const modem = c.modem;
    if (sockets(modem).has(cid)) throw new AtSyntaxError(`cid ${cid} is in use`);
    if (!appContexts(modem)[pdp]!.active) {
      c.info(`+CAOPEN: ${cid},${RESULT.NOT_ACTIVE}`);
      return;
    }
    let connection: VirtualConnection;
    try {
      connection = await tcpStackOf(modem).connect(host, port, CONNECT_TIMEOUT_MS);
    } catch (error) {
      const reason = error instanceof VirtualConnectError ? error.reason : "refused";
      c.info(`+CAOPEN: ${cid},${reason === "dns" ? RESULT.DNS : RESULT.CONNECT_FAILED}`);
      return;
    }
    const socket: SimcomSocket = { cid, pdp, host, port, connection, peerClosed: false };
    sockets(modem).set(cid, socket);
    connection.onData = () => {
      // Announced when data arrives into an empty buffer (the driver reads until it is empty).
      if (sockets(modem).get(cid) === socket && connection.available > 0 && !announced.has(socket)) {
        announced.add(socket);
        urc(modem, `+CADATAIND: ${cid}`);
      }
    };
    connection.onPeerClose = () => {
      if (sockets(modem).get(cid) !== socket || socket.peerClosed) return;
      socket.peerClosed = true;
      urc(modem, `+CASTATE: ${cid},0`);
    };
    c.info(`+CAOPEN: ${cid},${RESULT.OK}`);
    if (connection.available > 0) c.afterFinalResult(() => connection.onData?.());
    if (connection.peerClosed) c.afterFinalResult(() => connection.onPeerClose?.());
  },
});

async function sendData(c: CommandContext, socket: SimcomSocket, length: number): Promise<void> {
  c.raw(Uint8Array.of(0x3e, 0x20)); // "> "
  const data = await c.readData(length, DATA_TIMEOUT_MS);
  if (socket.peerClosed) throw new AtSyntaxError("the peer closed the connection");
  socket.connection.write(data);
}

const casend = byForm({
  test: (c) => c.info(`+CASEND: (0-12),(1-${MAX_SEND})`),
  set: async (c, params) => {
    expectParamCount(params, 2, 3);
    const socket = openSocket(c.modem, integerParam(params, 0, 0, 12));
    const length = integerParam(params, 1, 1, 100000);
    if (length > MAX_SEND) throw new AtSyntaxError(`length ${length} exceeds ${MAX_SEND}`);
    if (socket.peerClosed) throw new AtSyntaxError("the peer closed the connection");
    await sendData(c, socket, length);
  },
});

const carecv = byForm({
  test: (c) => c.info(`+CARECV: (0-12),(1-${MAX_READ})`),
  read: (c) => {
    for (const socket of [...sockets(c.modem).values()].sort((a, b) => a.cid - b.cid)) c.info(`+CARECV: ${socket.cid},${socket.connection.available}`);
  },
  set: (c, params) => {
    expectParamCount(params, 2, 2);
    const socket = openSocket(c.modem, integerParam(params, 0, 0, 12));
    const wanted = integerParam(params, 1, 1, 100000);
    if (wanted > MAX_READ) throw new AtSyntaxError(`read length ${wanted} exceeds ${MAX_READ}`);
    const data = socket.connection.read(wanted);
    if (socket.connection.available === 0) announced.delete(socket);
    if (data.length === 0) {
      c.info("+CARECV: 0");
      return;
    }
    // The data follows the comma on the header line; CR LF OK follows the data.
    c.raw(Uint8Array.from(`\r\n+CARECV: ${data.length},`, (ch) => ch.charCodeAt(0)));
    c.raw(data);
  },
});

const caclose = byForm({
  test: (c) => c.info("+CACLOSE: (0-12)"),
  set: (c, params) => {
    expectParamCount(params, 1, 1);
    const socket = sockets(c.modem).get(integerParam(params, 0, 0, 12));
    if (!socket) throw new AtSyntaxError("not open");
    dropSocket(c.modem, socket);
  },
});

const castate = byForm({
  read: (c) => {
    for (const socket of [...sockets(c.modem).values()].sort((a, b) => a.cid - b.cid)) c.info(`+CASTATE: ${socket.cid},${socket.peerClosed ? 0 : 1}`);
  },
});

/** Settings commands the attach sequence uses (RAT and bands): stored, answered OK. */
function setting(name: string, first: number, last: number) {
  return byForm({
    test: (c) => c.info(`${name}: (${first}-${last})`),
    read: (c) => c.info(`${name}: ${c.modem.extension(`${NAME}${name}`, () => ({ value: first })).value}`),
    set: (c, params) => {
      expectParamCount(params, 1, 1);
      c.modem.extension(`${NAME}${name}`, () => ({ value: first })).value = integerParam(params, 0, first, last);
    },
  });
}

export const simcomSim7080Dialect: ModemDialect = {
  name: NAME,
  summary: "SIMCom SIM7080G: CNCFG/CNACT, CAOPEN, CASEND, CARECV, CACLOSE, +CADATAIND",
  identity: { manufacturer: "SIMCOM INCORPORATED", model: "SIMCOM_SIM7080G", revision: "1951B15SIM7080" },
  bootUrcs: ["RDY", "+CPIN: READY", "SMS Ready", "PB DONE"],
  limits: { send: MAX_SEND, read: MAX_READ },
  commands: {
    "+CNCFG": cncfg,
    "+CNACT": cnact,
    "+CAOPEN": caopen,
    "+CASEND": casend,
    "+CARECV": carecv,
    "+CACLOSE": caclose,
    "+CASTATE": castate,
    "+CACID": byForm({ set: (c, params) => void integerParam(params, 0, 0, 12) }),
    "+CNMP": setting("+CNMP", 2, 51),
    "+CMNB": setting("+CMNB", 1, 3),
    "+CBANDCFG": byForm({ set: () => undefined, read: (c) => c.info('+CBANDCFG: "CAT-M",1,2,3,4,5,8,12,13,14,18,19,20,25,26,27,28,66,85') }),
    "+CREBOOT": byForm({
      action: (c) => {
        const modem = c.modem;
        c.afterFinalResult(() => void modem.reset());
      },
    }),
    // SIMCom prints the bare ICCID.
    "+CCID": byForm({ action: (c) => c.info(c.modem.identity.iccid), test: () => undefined }),
  },
  onReset(modem) {
    for (const socket of [...sockets(modem).values()]) dropSocket(modem, socket);
    for (const context of appContexts(modem)) context.active = false;
  },
  dropDataContext(modem) {
    appContexts(modem).forEach((context, index) => {
      if (!context.active) return;
      context.active = false;
      for (const socket of [...sockets(modem).values()]) if (socket.pdp === index) dropSocket(modem, socket);
      urc(modem, `+APP PDP: ${index},DEACTIVE`);
    });
  },
};
