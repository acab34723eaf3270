package container

import (
	"context"
	"math"
	"os"
	"strings"
	"time"

	"github.com/dockless/dockless/runtime"
	"golang.org/x/sys/unix"
)

// Kill sends sig to the container's processes.
func (n *Node) Kill(r *Record, sig unix.Signal) error {
	return runtime.Signal(n.runcRoot(), r.ID, sig)
}

// Pause freezes the container's processes (cgroup freezer).
func (n *Node) Pause(r *Record) error { return runtime.Pause(n.runcRoot(), r.ID) }

// Resume thaws them.
func (n *Node) Resume(r *Record) error { return runtime.Resume(n.runcRoot(), r.ID) }

// DefaultStopGrace is how long Stop waits after the stop signal when
// neither the stop command nor the container (--stop-timeout) says.
const DefaultStopGrace = 10 * time.Second

// Stop sends the container's stop signal (--stop-signal, SIGTERM by
// default), waits up to grace for the container to be gone, then SIGKILL,
// and waits for its dockless to clean up. A negative grace is the
// container's own: its --stop-timeout (-1: it is waited for without
// SIGKILL), else DefaultStopGrace.
func (n *Node) Stop(ctx context.Context, r *Record, grace time.Duration) error {
	sig := unix.SIGTERM
	if r.StopSignal > 0 {
		sig = unix.Signal(r.StopSignal)
	}
	if grace < 0 {
		grace = DefaultStopGrace
		if r.StopTimeout != nil {
			grace = time.Duration(*r.StopTimeout) * time.Second
			if *r.StopTimeout < 0 {
				grace = time.Duration(math.MaxInt64)
			}
		}
	}
	if err := n.Kill(r, sig); err != nil {
		return err
	}
	if n.waitGone(ctx, r, grace) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := n.Kill(r, unix.SIGKILL); err != nil {
		return err
	}
	n.waitGone(ctx, r, 10*time.Second)
	return ctx.Err()
}

// Remove removes a container whose dockless died; a running one is
// stopped at once when force is set, and refused otherwise.
func (n *Node) Remove(ctx context.Context, r *Record, force bool) error {
	state, _ := n.Status(r)
	switch {
	case state == "dead":
		return n.remove(r)
	case !force:
		return &NotStoppedError{ID: r.ID, State: state}
	}
	return n.Stop(ctx, r, 0)
}

// NotStoppedError: rm without -f of a container that still runs.
type NotStoppedError struct{ ID, State string }

func (e *NotStoppedError) Error() string {
	return "container " + e.ID[:12] + " is " + e.State
}

// Wait blocks until the container is gone and returns its exit status as
// its dockless recorded it ("-1" when none was), which it consumes.
func (n *Node) Wait(ctx context.Context, r *Record) (string, error) {
	for !n.waitGone(ctx, r, time.Hour) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile(n.exitPath(r.ID))
	if err != nil {
		return "-1", nil
	}
	os.Remove(n.exitPath(r.ID))
	return strings.TrimSpace(string(b)), nil
}

// waitGone waits until the container's record is gone (its dockless has
// cleaned up), timeout passes or ctx is done.
func (n *Node) waitGone(ctx context.Context, r *Record, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := n.readRecord(r.ID); err != nil {
			return true
		}
		if !r.launcherAlive() {
			_ = n.remove(r)
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Measure samples the container's cgroup twice, interval apart
// (runtime.Measure).
func (n *Node) Measure(r *Record, interval time.Duration) (*runtime.Usage, error) {
	return runtime.Measure(n.runcRoot(), r.ID, interval)
}
