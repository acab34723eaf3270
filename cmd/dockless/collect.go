package main

import (
	"runtime/debug"
	"time"
)

// startHold is how long a dockless process runs without the garbage
// collector's pacing (holdCollection).
const startHold = time.Second

// startHeapLimit is the heap a dockless process may reach during startHold
// before it collects anyway.
const startHeapLimit = 64 << 20

// holdCollection keeps the garbage collector from pacing itself on the heap's
// growth for hold: a start of a cached image allocates about 3 MiB before
// its container runs, and the collection the runtime's 4 MiB goal set off
// then (with its sweeping and the mark assists) cost each start a few
// milliseconds of CPU (BENCHMARKS.md). Meanwhile a soft limit of limit
// bytes has the collector run anyway as the heap nears it (a pull or a
// build's transfer); after hold, a process still running (a job's
// resident dockless, a pull) collects as it did before.
func holdCollection(hold time.Duration, limit int64) {
	percent := debug.SetGCPercent(-1)
	before := debug.SetMemoryLimit(limit)
	time.AfterFunc(hold, func() {
		debug.SetMemoryLimit(before)
		debug.SetGCPercent(percent)
	})
}
