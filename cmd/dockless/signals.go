package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The caller owns the terminal and the pipes dockless writes to, and can
// send a setuid dockless signals it cannot refuse at any moment it
// chooses: ^C, ^\ and ^Z (SIGINT, SIGQUIT, SIGTSTP), a hangup (SIGHUP), a
// background read or write on a TOSTOP terminal (SIGTTIN, SIGTTOU), a
// closed pipe (SIGPIPE). By default they kill or stop the process at once:
// stopped, it would hold the node's store lock for as long as the caller
// likes (every job of the node waits for it); killed, it would leave its
// mounts, snapshot and state behind. So, for every command but the OCI
// interface (whose callers are root: containerd and the OCI tools):
//   - SIGINT, SIGTERM, SIGHUP and SIGQUIT cancel the command's context:
//     it stops waiting, undoes what it set up and exits 125 saying so
//     (from the moment the runtime relays them to a container until it
//     ran, they are the runtime's: HandOver; one the caller started
//     dockless with ignored stays ignored; a login prompt, which holds
//     nothing, gives them their default back);
//   - SIGTTIN and SIGTTOU are ignored: a background write goes through, a
//     background read fails, and neither stops dockless;
//   - SIGTSTP is deferred: a container's dockless stops once its setup is
//     over and it holds no lock, just before the container starts (once
//     it runs, the runtime suspends it and dockless together); a SIGCONT
//     before then cancels the stop. Other commands hold the store's locks
//     for most of their short lives and do not stop;
//   - SIGPIPE is caught: a write to a closed pipe fails instead of killing.

// interruptSignals end a command.
var interruptSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT}

// signalGuard is the process's handling of the signals above.
type signalGuard struct {
	ctx       context.Context
	interrupt context.CancelCauseFunc
	// stopAsked: a SIGTSTP came, and no SIGCONT after it.
	stopAsked atomic.Bool
	// relay hands the interrupts over to the runtime's relay (true) and
	// takes them back (false); handleInterrupts answers on handed. nil
	// until install takes an interrupt over.
	relay  chan bool
	handed chan struct{}
}

// interruptError is the cause of a command's context cancelled by a
// signal.
type interruptError struct{ sig unix.Signal }

func (e interruptError) Error() string { return "interrupted by " + unix.SignalName(e.sig) }

func newSignalGuard() *signalGuard {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &signalGuard{ctx: ctx, interrupt: cancel}
}

// install takes the signals over. It stays for the life of the process:
// signal handlers are process-wide, and every step of a command may hold
// something.
func (g *signalGuard) install() {
	signal.Ignore(unix.SIGTTIN, unix.SIGTTOU)
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
	stops := make(chan os.Signal, 1)
	signal.Notify(stops, unix.SIGTSTP, unix.SIGCONT)
	go func() {
		for s := range stops {
			g.stopAsked.Store(s == unix.SIGTSTP)
		}
	}()
	// An interrupt the caller started dockless with ignored (nohup, a
	// background job of a shell without job control) stays ignored.
	var wanted []os.Signal
	for _, s := range interruptSignals {
		if !signal.Ignored(s) {
			wanted = append(wanted, s)
		}
	}
	if len(wanted) == 0 {
		return // (Notify of no signal would relay them all)
	}
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, wanted...)
	g.relay, g.handed = make(chan bool), make(chan struct{})
	go g.handleInterrupts(interrupts)
}

// handleInterrupts cancels the command's context on an interrupt, except
// while the runtime relays them to a container (HandOver to Ran).
func (g *signalGuard) handleInterrupts(interrupts <-chan os.Signal) {
	relayed := false
	for {
		select {
		case s := <-interrupts:
			if !relayed {
				g.interrupt(interruptError{s.(unix.Signal)})
			}
		case relayed = <-g.relay:
			// One that was sent here before the runtime caught the
			// signals itself is the setup's: the runtime never saw it.
			if relayed {
				select {
				case s := <-interrupts:
					g.interrupt(interruptError{s.(unix.Signal)})
				default:
				}
			}
			g.handed <- struct{}{}
		}
	}
}

// relayed hands the interrupts over to the runtime (on) or takes them back,
// once handleInterrupts has dealt with every one it was sent before.
func (g *signalGuard) relayed(on bool) {
	if g == nil || g.relay == nil {
		return
	}
	g.relay <- on
	<-g.handed
}

// releaseInterrupts gives the interrupts their default action back, for a
// command that holds nothing of the node's and waits on its caller (a
// login prompt): ^C ends it at once.
func releaseInterrupts() {
	signal.Reset(interruptSignals...)
}

// SetupDone stops the process if a SIGTSTP came and no SIGCONT since.
// The lifecycle calls it where the process holds nothing others wait for
// (container.SetupHooks); it returns once the process is continued.
func (g *signalGuard) SetupDone() {
	if g != nil && g.stopAsked.Swap(false) {
		_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
	}
}

// HandOver leaves the interrupts to the runtime, which has caught them to
// relay them to a container (container.SetupHooks) and done nothing else
// yet: a signal is either the runtime's, or came before and has cancelled
// the command's context when HandOver returns.
func (g *signalGuard) HandOver() { g.relayed(true) }

// Ran takes the interrupts back after a container or an exec ran (or did
// not start), and sets the terminal's stops back to ignored: the runtime
// caught them while it ran, and Go goes on catching a signal that was once
// relayed, so a background write of dockless's would otherwise be
// restarted forever instead of going through.
func (g *signalGuard) Ran() {
	g.relayed(false)
	signal.Ignore(unix.SIGTTIN, unix.SIGTTOU)
}

// explain names the signal in the error of a command that one
// interrupted (by then its cleanups have run).
func (g *signalGuard) explain(err error) error {
	var sig interruptError
	switch {
	case err == nil || errors.As(err, new(exitStatus)) || !errors.As(context.Cause(g.ctx), &sig):
		return err
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: stopped and cleaned up", sig)
	default:
		return fmt.Errorf("%w (%v)", sig, err)
	}
}
