/*
 * ECMA-419 host provider (embedded:provider/builtin) of the LilyGO T-SIM7080G-S3: the I/O classes
 * and this board's buses. The firmware itself takes its pins from the manifest's config.board.
 */
import Digital from "embedded:io/digital";
import I2C from "embedded:io/i2c";
import Serial from "embedded:io/serial";
import SMBus from "embedded:io/smbus";

const device = {
	I2C: {
		// The AXP2101 power management IC.
		default: { io: I2C, data: 15, clock: 7 }
	},
	Serial: {
		// The SIM7080G modem (ESP32 TX 5 → modem RXD, RX 4 ← modem TXD).
		modem: { io: Serial, port: 1, transmit: 5, receive: 4 }
	},
	io: { Digital, I2C, Serial, SMBus },
	pin: { modemPowerKey: 41 }
};

export default device;
