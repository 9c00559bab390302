/*
 * A "log machine" plug-in for the Moddable SDK's xsbug-log (the console debugger; the SDK's
 * documentation/tools/tools.md: XSBUG_LOGMACHINE names a module exporting a LogMachine class). It
 * extends the SDK's own console machine (tools/xsbug-log/xsbug-debugmachine.js, which xsbug-log's
 * command router relies on) and turns a debug build running in mcsim into something a script can
 * watch:
 *
 * - every trace() line of the firmware goes to stdout as it is, one line each;
 * - XS aborts (stack overflow, out of memory, unhandled exceptions) become "@abort <text>" lines;
 * - the machine's instrumentation samples (sent once a second) are kept, and the peak of each is
 *   printed as "@instruments {json}" when the firmware prints "@done" or "@failed" (or aborts);
 *   with IOTSAFE_SAMPLES=1 each sample is printed too ("@sample {json}");
 * - after "@done"/"@failed"/an abort the process exits (0 for "@done", 1 otherwise), which ends
 *   the run (the caller kills mcsim with the process group).
 *
 * CommonJS because xsbug-log loads it with require().
 */
"use strict";

const path = require("node:path");

const sdk = process.env.MODDABLE;
if (!sdk) {
	console.log("@abort MODDABLE is not set: the log machine needs the SDK's tools/xsbug-log");
	process.exit(2);
}
const { LogMachine: ConsoleMachine } = require(path.join(sdk, "tools", "xsbug-log", "xsbug-debugmachine.js"));

const printSamples = process.env.IOTSAFE_SAMPLES === "1";
let finished = false;

class LogMachine extends ConsoleMachine {
	line = "";
	names = [];
	peaks = {};

	onTitleChanged(title, tag) {
		super.onTitleChanged(title, tag);
		// Caught exceptions are part of normal operation (timeouts, retries): neither stop nor print.
		this.exceptionsMode = "silent";
		if (title && title !== "mcsim")
			console.log(`@connected ${title}`);
	}

	onInstrumentDescriptions(descriptions) {
		super.onInstrumentDescriptions(descriptions);
		this.names = descriptions.map((d) => d.name);
	}

	onInstrumentValues(values) {
		super.onInstrumentValues(values);
		const sample = {};
		values.forEach((value, index) => {
			const name = this.names[index];
			const n = Number(value);
			if (!name || !Number.isFinite(n))
				return;
			sample[name] = n;
			if (!(name in this.peaks) || n > this.peaks[name])
				this.peaks[name] = n;
		});
		if (printSamples)
			console.log(`@sample ${JSON.stringify(sample)}`);
	}

	onLogged(where, line, data) {
		if (this.title === "mcsim")
			return;
		this.line += data;
		let newline;
		while ((newline = this.line.indexOf("\n")) >= 0) {
			const text = this.line.slice(0, newline);
			this.line = this.line.slice(newline + 1);
			this.printLine(text);
		}
	}

	printLine(text) {
		if (text.startsWith("# Exception: ") || text.startsWith("# Break: "))
			return;
		if (/^XS abort|stack overflow|not enough memory|# Chunk allocation|# Slot allocation/.test(text))
			return this.finish(`@abort ${text}`, 1);
		console.log(text);
		if (text.startsWith("@done "))
			this.finish(undefined, 0);
		else if (text.startsWith("@failed "))
			this.finish(undefined, 1);
	}

	onBroken(where, line, text) {
		// Nobody is at the keyboard: report where it stopped and go on.
		const message = (text || "").trim();
		if (this.title !== "mcsim")
			console.log(`@break ${where ?? "?"}:${line ?? "?"} ${message}`);
		this.doGo();
	}

	finish(lastLine, code) {
		if (finished)
			return;
		finished = true;
		if (lastLine)
			console.log(lastLine);
		console.log(`@instruments ${JSON.stringify(this.peaks)}`);
		// Let stdout drain before exiting.
		setTimeout(() => process.exit(code), 100);
	}
}

exports.LogMachine = LogMachine;
