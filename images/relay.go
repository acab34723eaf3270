package images

import (
	"io"
	"os"
	"sync"
)

// relayLimit bounds what a Relay holds for a writer that does not take
// it: beyond it, further writes are dropped.
const relayLimit = 1 << 20

// Relay passes what is written to it on to a writer from a goroutine of its
// own: Write never waits. The caller's terminal or pipe can block a write
// for as long as the caller likes (a stopped terminal, a pipe nobody
// reads), and nothing that holds one of the store's locks may wait on it:
// pull progress and the libraries' logs go through a Relay. What a writer
// that does not keep up has not taken is held up to a bound, then dropped.
type Relay struct {
	w    io.Writer
	wake chan struct{}
	done chan struct{}

	mu      sync.Mutex
	queue   []byte
	closing bool
}

// NewRelay starts relaying to w.
func NewRelay(w io.Writer) *Relay {
	r := &Relay{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go r.copy()
	return r
}

// Write queues p (or drops it, past the bound) and never blocks.
func (r *Relay) Write(p []byte) (int, error) {
	r.mu.Lock()
	closing := r.closing
	if !closing && len(r.queue)+len(p) <= relayLimit {
		r.queue = append(r.queue, p...)
	}
	r.mu.Unlock()
	if closing {
		return 0, os.ErrClosed
	}
	r.poke()
	return len(p), nil
}

// Close waits until what was written has been passed on (or the writer
// failed); it must be called where nothing is held.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	r.poke()
	<-r.done
	return nil
}

// file is the file the relay writes to, if it writes to one (progress bars
// ask a terminal for its size).
func (r *Relay) file() (*os.File, bool) {
	f, ok := r.w.(*os.File)
	return f, ok
}

func (r *Relay) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) copy() {
	defer close(r.done)
	failed := false
	for {
		r.mu.Lock()
		buf, closing := r.queue, r.closing
		r.queue = nil
		r.mu.Unlock()
		if len(buf) > 0 {
			if !failed {
				_, err := r.w.Write(buf)
				failed = err != nil
			}
			continue
		}
		if closing {
			return
		}
		<-r.wake
	}
}
