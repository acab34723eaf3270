package runtime

import (
	"os"
	"os/signal"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStopRelaying_GivesTheSignalsBack: the signals Run caught are given
// back (on another goroutine): soon a signal no longer reaches the
// channel. SIGWINCH, whose default action is to ignore it, stands for
// them.
func TestStopRelaying_GivesTheSignalsBack(t *testing.T) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGWINCH)
	if err := unix.Kill(os.Getpid(), unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sigs:
	case <-time.After(5 * time.Second):
		t.Fatal("the caught signal never reached the channel")
	}
	stopRelaying(sigs)
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		for len(sigs) > 0 {
			<-sigs
		}
		_ = unix.Kill(os.Getpid(), unix.SIGWINCH)
		select {
		case <-sigs:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
	t.Fatal("the signal still reaches the channel: it was never given back")
}
