package runtime

import (
	"errors"
	"os"
	"os/signal"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// relay connects a process without a terminal to dockless's stdio through
// pipes dockless makes. The process never gets the caller's own files:
// libcontainer's init fchowns its stdio to the container's user, as root,
// and the caller's stdin may be a file they can only read (/etc/passwd),
// their stdout a root-owned file a root process opened for them.
//
// Output is copied while the process runs and drained once it exited, so
// nothing it wrote is lost; input is copied until it ends (the process then
// reads EOF) or the process is gone, and no read of the caller's input is
// left pending after that.
type relay struct {
	outs     []*output
	in       *input // nil when the process reads /dev/null
	child    []*os.File
	attached bool
	// sigpipe makes a write to a stdout whose reader is gone fail with
	// EPIPE instead of killing dockless (Go's default for stdout and
	// stderr), which would skip every cleanup.
	sigpipe chan os.Signal
}

// output copies one pipe's read end to dockless's stdout or stderr.
type output struct {
	r, dst *os.File
	done   chan struct{}
}

// input copies dockless's stdin to the write end of the process's stdin;
// closing stop ends it.
type input struct {
	src, w, stop, stopped *os.File
	done                  chan struct{}
}

func newRelay(p *libcontainer.Process, stdio IO) (r *relay, err error) {
	r = &relay{sigpipe: make(chan os.Signal, 1)}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if stdio.Stdin != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		r.child = append(r.child, pr)
		r.in = &input{src: stdio.Stdin, w: pw, done: make(chan struct{})}
		if r.in.stopped, r.in.stop, err = os.Pipe(); err != nil {
			return nil, err
		}
		p.Stdin = pr
	}
	if p.Stdout, err = r.output(stdio.Stdout); err != nil {
		return nil, err
	}
	// One pipe for stdout and stderr that are one file (2>&1, a terminal)
	// keeps the order in which the process wrote to them.
	if sameFile(stdio.Stdout, stdio.Stderr) {
		p.Stderr = p.Stdout
	} else if p.Stderr, err = r.output(stdio.Stderr); err != nil {
		return nil, err
	}
	return r, nil
}

// output makes a pipe whose write end is the process's and whose read end
// is copied to dst.
func (r *relay) output(dst *os.File) (*os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	r.child = append(r.child, pw)
	r.outs = append(r.outs, &output{r: pr, dst: dst, done: make(chan struct{})})
	return pw, nil
}

func sameFile(a, b *os.File) bool {
	var sa, sb unix.Stat_t
	return unix.Fstat(int(a.Fd()), &sa) == nil && unix.Fstat(int(b.Fd()), &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// Attach closes dockless's copies of the process's ends (the process has
// its own since it started) and starts copying.
func (r *relay) Attach() error {
	closeFiles(r.child)
	r.child = nil
	r.attached = true
	signal.Notify(r.sigpipe, unix.SIGPIPE)
	for _, o := range r.outs {
		go o.copy()
	}
	if r.in != nil {
		go r.in.copy()
	}
	return nil
}

// Resize does nothing: there is no terminal.
func (r *relay) Resize() {}

// Wait, once the process exited, copies out what is left of its output.
// Its children may outlive it (an exec's background job) and keep the
// pipes open: Wait does not wait for them.
func (r *relay) Wait() {
	for _, o := range r.outs {
		o.stop()
		o.drain()
	}
}

// Close stops copying and closes every pipe.
func (r *relay) Close() {
	if r.in != nil {
		r.in.close(r.attached)
	}
	for _, o := range r.outs {
		if r.attached {
			o.stop()
		}
		_ = o.r.Close()
	}
	closeFiles(r.child)
	signal.Stop(r.sigpipe)
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// copy copies the process's output until the pipe ends, stop, or dst fails:
// then the read end is closed, so that the process's next write fails as
// it would have on dst itself (EPIPE, SIGPIPE).
func (o *output) copy() {
	defer close(o.done)
	buf := make([]byte, 32*1024)
	for {
		n, err := o.r.Read(buf)
		if n > 0 {
			if _, werr := o.dst.Write(buf[:n]); werr != nil {
				_ = o.r.Close()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stop ends a copy that waits for more output and waits until it returned.
func (o *output) stop() {
	_ = o.r.SetReadDeadline(time.Now())
	<-o.done
}

// drain copies what the pipe holds, without waiting for more.
func (o *output) drain() {
	if o.r.SetReadDeadline(time.Time{}) != nil {
		return // closed: dst failed
	}
	rc, err := o.r.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 32*1024)
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Read(int(fd), buf)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if n <= 0 {
				return true // empty (EAGAIN), or ended
			}
			if _, err := o.dst.Write(buf[:n]); err != nil {
				return true
			}
		}
	})
}

// copy copies the caller's input to the process until it ends (or cannot
// be read: a directory), the process's stdin is gone, or stop is closed;
// then the process reads EOF. It waits in poll, with stop, rather than in
// read, so that it ends without consuming input once dockless is done.
func (in *input) copy() {
	defer close(in.done)
	defer in.w.Close()
	src, stopped := int(in.src.Fd()), int(in.stopped.Fd())
	buf := make([]byte, 32*1024)
	for {
		fds := []unix.PollFd{{Fd: int32(src), Events: unix.POLLIN}, {Fd: int32(stopped), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); errors.Is(err, unix.EINTR) {
			continue
		} else if err != nil || fds[1].Revents != 0 {
			return
		}
		n, err := unix.Read(src, buf)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if n <= 0 {
			return
		}
		if _, err := in.w.Write(buf[:n]); err != nil {
			return
		}
	}
}

// close ends the copy (one that waits to write to a process that reads no
// more, too) and closes the pipes.
func (in *input) close(started bool) {
	_ = in.stop.Close()
	if started {
		_ = in.w.SetWriteDeadline(time.Now())
		<-in.done
	} else {
		_ = in.w.Close()
	}
	_ = in.stopped.Close()
}
