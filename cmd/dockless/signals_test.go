package main

import (
	"context"
	"errors"
	"fmt"
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
