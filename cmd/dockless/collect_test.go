package main

import (
	"math"
	"runtime/debug"
	"testing"
	"time"
)

// TestHoldCollection_PacesAgainAfterTheHold: during the hold the collector
// does not pace itself (GC percent off) and the soft limit is the one
// given; after it, both are what they were before.
func TestHoldCollection_PacesAgainAfterTheHold(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
	holdCollection(300*time.Millisecond, 32<<20)
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GC percent during the hold: %d, want -1 (off)", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 32<<20 {
		t.Errorf("memory limit during the hold: %d, want %d", l, 32<<20)
	}
	time.Sleep(time.Second)
	if p := debug.SetGCPercent(-1); p != 100 {
		t.Errorf("GC percent after the hold: %d, want 100 again", p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("memory limit after the hold: %d, want none again", l)
	}
}
