/**
 * The generic command table: V.250 basics and the 3GPP TS 27.007 commands a cellular IoT modem
 * shares across vendors (identity, SIM access through CSIM and logical channels, functionality,
 * registration, operator, PDP contexts, clock, signal). Dialects extend it (dialects.ts).
 */
import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { classOnChannel, isValidClass } from "../card/card.js";
import type { AtParameter } from "./at-syntax.js";
import {
  byForm,
  type CommandContext,
  type CommandHandler,
  type CommandTable,
  expectParamCount,
  integerParam,
  optionalIntegerParam,
  stringParam,
} from "./commands.js";
import { AtSyntaxError, CME, CmeError } from "./errors.js";
import type { AtPort } from "./virtual-modem.js";

/** `OK` with no output: the test form of commands whose ranges nobody parses. */
const nothing: CommandHandler = () => undefined;

/** A basic command taking 0 or 1 (absent = 0), e.g. ATE1. */
function basicSwitch(apply: (port: AtPort, on: boolean) => void): CommandHandler {
  return (context, command) => {
    if (command.form !== "action" || (command.args !== "" && command.args !== "0" && command.args !== "1")) {
      throw new AtSyntaxError(`${command.name}${command.args} is not supported`);
    }
    apply(context.port, command.args === "1");
  };
}

/** A basic command with no useful value (ATZ, AT&F, ATI): only absent or 0 are accepted. */
function basicAction(run: (context: CommandContext) => void): CommandHandler {
  return (context, command) => {
    if (command.form !== "action" || (command.args !== "" && command.args !== "0")) {
      throw new AtSyntaxError(`${command.name}${command.args} is not supported`);
    }
    run(context);
  };
}

/** A command that answers one information line and has a plain test form. */
function infoCommand(line: (context: CommandContext) => string, options: { read?: boolean } = {}): CommandHandler {
  const answer: CommandHandler = (context) => context.info(line(context));
  return byForm({ action: answer, test: nothing, ...(options.read ? { read: answer } : {}) });
}

/** The response of an APDU as `+<prefix>: <len>,"<HEX>"` (length in hex characters, upper-case hex as modems print it). */
function apduResponseLine(prefix: string, response: Uint8Array): string {
  return `${prefix}: ${response.length * 2},"${toHex(response).toUpperCase()}"`;
}

/** Hex parameter of an APDU command, checked against its declared length in hex characters. */
function apduParam(params: AtParameter[], lengthIndex: number, hexIndex: number): Uint8Array {
  const length = integerParam(params, lengthIndex, 0, 1_000_000);
  const hex = stringParam(params, hexIndex);
  if (hex.length !== length) {
    throw new CmeError(CME.INCORRECT_PARAMETERS, `length ${length} does not match ${hex.length} hex characters`);
  }
  let apdu: Uint8Array;
  try {
    apdu = fromHex(hex);
  } catch (error) {
    throw new CmeError(CME.INCORRECT_PARAMETERS, `APDU is not hex: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (apdu.length < 4) throw new CmeError(CME.INCORRECT_PARAMETERS, `APDU of ${apdu.length} bytes is shorter than a header`);
  return apdu;
}

const PIN_FORMAT = /^[0-9]{4,16}$/;
const PDP_TYPES = ["IP", "IPV6", "IPV4V6", "NON-IP"];
const PRINTABLE_ASCII = /^[\x20-\x21\x23-\x7e]*$/;

export const genericCommands: CommandTable = {
  // --- V.250 basics ---
  E: basicSwitch((port, on) => {
    port.echo = on;
  }),
  V: basicSwitch((port, on) => {
    port.verbose = on;
  }),
  Q: basicSwitch((port, on) => {
    port.quiet = on;
  }),
  Z: basicAction((context) => context.port.resetSettings()),
  "&F": basicAction((context) => context.port.resetSettings()),
  I: basicAction((context) => {
    const identity = context.modem.identity;
    context.info(identity.manufacturer);
    context.info(identity.model);
    context.info(`Revision: ${identity.revision}`);
  }),

  // --- identity ---
  "+CGMI": infoCommand((c) => c.modem.identity.manufacturer),
  "+GMI": infoCommand((c) => c.modem.identity.manufacturer),
  "+CGMM": infoCommand((c) => c.modem.identity.model),
  "+GMM": infoCommand((c) => c.modem.identity.model),
  "+CGMR": infoCommand((c) => c.modem.identity.revision),
  "+GMR": infoCommand((c) => c.modem.identity.revision),
  "+GSN": infoCommand((c) => c.modem.identity.imei),
  "+CGSN": byForm({
    action: (c) => c.info(c.modem.identity.imei),
    test: (c) => c.info("+CGSN: (0-1)"),
    set: (c, params) => {
      expectParamCount(params, 1, 1);
      const kind = integerParam(params, 0, 0, 3);
      if (kind > 1) throw new CmeError(CME.OPERATION_NOT_SUPPORTED, `AT+CGSN=${kind} is not supported`);
      c.info(kind === 1 ? `+CGSN: "${c.modem.identity.imei}"` : c.modem.identity.imei);
    },
  }),
  "+CIMI": byForm({
    action: (c) => {
      c.modem.requireSimReady();
      c.info(c.modem.identity.imsi);
    },
    test: nothing,
  }),
  "+CCID": infoCommand((c) => `+CCID: ${c.modem.identity.iccid}`, { read: true }),
  "+ICCID": infoCommand((c) => `+ICCID: ${c.modem.identity.iccid}`, { read: true }),
  "+QCCID": infoCommand((c) => `+QCCID: ${c.modem.identity.iccid}`, { read: true }),

  // --- error reporting ---
  "+CMEE": byForm({
    read: (c) => c.info(`+CMEE: ${c.port.cmee}`),
    test: (c) => c.info("+CMEE: (0-2)"),
    set: (c, params) => {
      expectParamCount(params, 1, 1);
      c.port.cmee = optionalIntegerParam(params, 0, 0, 2) ?? 0;
    },
  }),

  // --- SIM ---
  "+CPIN": byForm({
    read: (c) => c.info(`+CPIN: ${c.modem.simState}`),
    test: nothing,
    set: (c, params) => {
      expectParamCount(params, 1, 2);
      const code = stringParam(params, 0);
      const newPin = params[1]?.value;
      if (!PIN_FORMAT.test(code) || (newPin !== undefined && !PIN_FORMAT.test(newPin))) {
        throw new CmeError(CME.INCORRECT_PARAMETERS, "PIN and PUK are 4..16 digits");
      }
      c.modem.enterPin(code, newPin);
    },
  }),
  "+CSIM": byForm({
    test: nothing,
    set: async (c, params) => {
      expectParamCount(params, 2, 2);
      const apdu = apduParam(params, 0, 1);
      c.modem.requireSimReady();
      c.info(apduResponseLine("+CSIM", await c.modem.transmitApdu(apdu)));
    },
  }),
  "+CCHO": byForm({
    test: nothing,
    set: async (c, params) => {
      expectParamCount(params, 1, 1);
      const hex = stringParam(params, 0);
      let aid: Uint8Array;
      try {
        aid = fromHex(hex);
      } catch {
        throw new CmeError(CME.INCORRECT_PARAMETERS, "AID is not hex");
      }
      if (aid.length < 1 || aid.length > 16) throw new CmeError(CME.INCORRECT_PARAMETERS, `AID of ${aid.length} bytes`);
      c.modem.requireSimReady();
      c.info(`+CCHO: ${await c.modem.openSession(aid)}`);
    },
  }),
  "+CGLA": byForm({
    test: nothing,
    set: async (c, params) => {
      expectParamCount(params, 3, 3);
      const sessionId = integerParam(params, 0, 0, 0xffffffff);
      const apdu = apduParam(params, 1, 2);
      c.modem.requireSimReady();
      const channel = c.modem.sessionChannel(sessionId);
      if (!isValidClass(apdu[0]!)) throw new CmeError(CME.INCORRECT_PARAMETERS, "reserved class byte");
      // MANAGE CHANNEL through a session would pull the channel from under the MT.
      if (apdu[1] === 0x70) throw new CmeError(CME.OPERATION_NOT_ALLOWED, "MANAGE CHANNEL is not allowed through AT+CGLA");
      // The MT owns the channel bits of CLA (27.007 §8.43): the TE sends them cleared, we patch them in.
      apdu[0] = classOnChannel(apdu[0]!, channel);
      c.info(apduResponseLine("+CGLA", await c.modem.transmitApdu(apdu)));
    },
  }),
  "+CCHC": byForm({
    test: nothing,
    set: async (c, params) => {
      expectParamCount(params, 1, 1);
      const sessionId = integerParam(params, 0, 0, 0xffffffff);
      c.modem.requireSimReady();
      await c.modem.closeSession(sessionId);
    },
  }),

  // --- functionality and network ---
  "+CFUN": byForm({
    read: (c) => c.info(`+CFUN: ${c.modem.functionality}`),
    test: (c) => c.info("+CFUN: (0,1,4),(0-1)"),
    set: (c, params) => {
      expectParamCount(params, 1, 2);
      const level = integerParam(params, 0, 0, 4);
      if (level !== 0 && level !== 1 && level !== 4) throw new CmeError(CME.INCORRECT_PARAMETERS, `AT+CFUN=${level} is not supported`);
      const reset = optionalIntegerParam(params, 1, 0, 1) === 1;
      const modem = c.modem;
      if (!reset) {
        modem.setFunctionality(level);
        return;
      }
      // A reset answers OK first, then the modem restarts with the requested level.
      c.afterFinalResult(() => {
        void modem.reset().then(() => modem.setFunctionality(level));
      });
    },
  }),
  "+CEREG": byForm({
    read: (c) => c.info(`+CEREG: ${c.port.ceregMode},${c.port.registrationFields()}`),
    test: (c) => c.info("+CEREG: (0-5)"),
    set: (c, params) => {
      expectParamCount(params, 1, 1);
      c.port.ceregMode = optionalIntegerParam(params, 0, 0, 5) ?? 0;
    },
  }),
  "+CGATT": byForm({
    read: (c) => c.info(`+CGATT: ${c.modem.registered ? 1 : 0}`),
    test: (c) => c.info("+CGATT: (0-1)"),
    set: (c, params) => {
      expectParamCount(params, 1, 1);
      c.modem.setAttachAllowed(integerParam(params, 0, 0, 1) === 1);
    },
  }),
  "+COPS": byForm({
    read: (c) => {
      const mode = c.modem.extension("generic.copsMode", () => ({ value: 0 })).value;
      const network = c.modem.network;
      c.info(c.modem.registered ? `+COPS: ${mode},0,"${network.operatorName}",7` : `+COPS: ${mode}`);
    },
    test: (c) => {
      const network = c.modem.network;
      c.info(`+COPS: (2,"${network.operatorName}","${network.operatorName}","${network.operatorNumeric}",7),,(0-4),(0-2)`);
    },
    set: (c, params) => {
      expectParamCount(params, 1, 5);
      const mode = integerParam(params, 0, 0, 4);
      if (mode === 3) return; // only sets the format
      c.modem.extension("generic.copsMode", () => ({ value: 0 })).value = mode;
      c.modem.setAttachAllowed(mode !== 2);
    },
  }),
  "+CGDCONT": byForm({
    read: (c) => {
      const contexts = [...c.modem.pdpContexts.values()].sort((a, b) => a.cid - b.cid);
      for (const ctx of contexts) c.info(`+CGDCONT: ${ctx.cid},"${ctx.type}","${ctx.apn}","0.0.0.0",0,0`);
    },
    test: (c) => c.info('+CGDCONT: (1-15),"IP",,,(0),(0)'),
    set: (c, params) => {
      expectParamCount(params, 1, 12);
      const cid = integerParam(params, 0, 1, 15);
      if (params.length === 1) {
        c.modem.pdpContexts.delete(cid);
        return;
      }
      const type = stringParam(params, 1).toUpperCase();
      if (!PDP_TYPES.includes(type)) throw new CmeError(CME.INCORRECT_PARAMETERS, `PDP type ${JSON.stringify(type)}`);
      const apn = params[2]?.value ?? "";
      if (apn.length > 100 || !PRINTABLE_ASCII.test(apn)) throw new CmeError(CME.INCORRECT_PARAMETERS, "APN must be printable ASCII, at most 100 characters");
      c.modem.pdpContexts.set(cid, { cid, type, apn });
    },
  }),
  "+CCLK": byForm({
    read: (c) => c.info(`+CCLK: "${c.modem.clockText()}"`),
    test: nothing,
    set: () => {
      throw new CmeError(CME.OPERATION_NOT_SUPPORTED, "the clock follows the host");
    },
  }),
  "+CSQ": byForm({
    action: (c) => c.info(c.modem.registered ? `+CSQ: ${c.modem.network.rssi},99` : "+CSQ: 99,99"),
    test: (c) => c.info("+CSQ: (0-31,99),(0-7,99)"),
  }),
};
