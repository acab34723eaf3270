package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSignalGuard_ExplainNamesTheInterrupt: the error of a command an
// interrupt cancelled names the signal; a container's exit status and the
// errors of commands nothing interrupted pass unchanged.
func TestSignalGuard_ExplainNamesTheInterrupt(t *testing.T) {
	cancelled := fmt.Errorf("pull x: %w", context.Canceled)
	other := errors.New("no such image")
	for _, tc := range []struct {
		name        string
		interrupted bool
		err         error
		want        string
	}{
		{"a cancelled setup", true, cancelled, "interrupted by SIGQUIT: stopped and cleaned up"},
		{"another error after the interrupt", true, other, "interrupted by SIGQUIT (no such image)"},
		{"the container's status", true, exitStatus{130}, "exit status 130"},
		{"no interrupt", false, other, "no such image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newSignalGuard()
			if tc.interrupted {
				g.interrupt(interruptError{unix.SIGQUIT})
			}
			if got := g.explain(tc.err); got == nil || got.Error() != tc.want {
				t.Fatalf("got %v, want %q", got, tc.want)
			}
		})
	}
	if newSignalGuard().explain(nil) != nil {
		t.Error("success stays success")
	}
}

// TestSignalGuard_HandOverSettlesEveryInterrupt: an interrupt the guard
// was sent before it hands the signals over to the runtime has cancelled
// the command when HandOver returns, whether or not its handler had read
// it yet; one sent between HandOver and Ran is the runtime's (the guard
// cancels nothing); after Ran they are the guard's again. (Ran's own
// relayed(false): Ran also ignores SIGTTOU, which the e2e tests' children
// of this process would inherit.)
func TestSignalGuard_HandOverSettlesEveryInterrupt(t *testing.T) {
	handled := func(interrupts chan os.Signal) *signalGuard {
		g := newSignalGuard()
		g.relay, g.handed = make(chan bool), make(chan struct{})
		go g.handleInterrupts(interrupts)
		return g
	}
	cause := func(g *signalGuard) error { return context.Cause(g.ctx) }

	pending := make(chan os.Signal, 1)
	g := handled(pending)
	pending <- unix.SIGTERM
	g.HandOver()
	if err := cause(g); err == nil || err.Error() != "interrupted by SIGTERM" {
		t.Fatalf("an interrupt sent before the hand-over: the command's cause is %v, want SIGTERM's", err)
	}

	// Unbuffered: a send returns once the handler holds the signal, and the
	// next hand-over or taking back waits until it has dealt with it.
	sent := make(chan os.Signal)
	g = handled(sent)
	g.HandOver()
	sent <- unix.SIGTERM
	g.relayed(false)
	if err := cause(g); err != nil {
		t.Fatalf("an interrupt while the runtime relays them cancelled the command: %v", err)
	}
	sent <- unix.SIGINT
	g.HandOver()
	if err := cause(g); err == nil || err.Error() != "interrupted by SIGINT" {
		t.Fatalf("an interrupt after Ran: the command's cause is %v, want SIGINT's", err)
	}
	newSignalGuard().HandOver() // not installed (the OCI interface): nothing to hand over
}
