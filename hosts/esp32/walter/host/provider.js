/*
 * ECMA-419 host provider (embedded:provider/builtin) of the DPTechnics Walter: the I/O classes and
 * this board's modem wiring. The firmware itself takes its pins from the manifest's config.board.
 */
import Digital from "embedded:io/digital";
import I2C from "embedded:io/i2c";
import Serial from "embedded:io/serial";
import SMBus from "embedded:io/smbus";

const device = {
	Serial: {
		// The Sequans GM02SP modem (ESP32 TX 48 → modem RX, RX 14 ← modem TX; RTS 21, CTS 47).
		modem: { io: Serial, port: 1, transmit: 48, receive: 14 }
	},
	io: { Digital, I2C, Serial, SMBus },
	pin: { modemReset: 45, modemRequestToSend: 21, modemClearToSend: 47, modemWake: 46 }
};

export default device;
