/*
 * Live-heap probe for measurement builds (hosts/moddable-sim/run.mjs --memory): collects garbage,
 * then reads XS's slot and chunk heap use and the stack peak from the SDK's instrumentation. Not
 * part of the firmware image: only the measurement manifest maps "iotsafe/memory-probe" here, and
 * main.ts imports it at run time when config.memoryProbe is set.
 */
import Debug from "debug";
import Instrumentation from "instrumentation";

export default function measure() {
	Debug.gc();
	return {
		slotBytes: Instrumentation.get(Instrumentation.map("XS Slot Heap Used")),
		chunkBytes: Instrumentation.get(Instrumentation.map("XS Chunk Heap Used")),
		stackBytes: Instrumentation.get(Instrumentation.map("XS Stack Used")),
	};
}
