package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// terminal is the pseudo-terminal of a container started with a TTY: the
// container's init creates it and sends the master over a socket pair; this
// side copies it to and from dockless's stdio and keeps the host terminal
// in raw mode until Close. The master is received as soon as the init
// sends it, while the container is being started. The pty keeps its output
// processing (ONLCR) as docker's does, the container's LF reaching
// dockless's stdout as CRLF, terminal or not, unless IO.ClearONLCR: then
// it is cleared the moment the master arrives, as runc does (a process
// that wrote and exited before Attach would otherwise have CR LF).
type terminal struct {
	parent, child *os.File
	received      chan masterOrError
	master        console.Console
	host          console.Console // nil when stdin is not a terminal
	stdio         IO
	copied        sync.WaitGroup
}

type masterOrError struct {
	master console.Console
	err    error
}

func newTerminal(p *libcontainer.Process, stdio IO) (*terminal, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	t := &terminal{parent: os.NewFile(uintptr(fds[0]), "console-p"), child: os.NewFile(uintptr(fds[1]), "console-c"), stdio: stdio}
	p.ConsoleSocket = t.child
	t.received = make(chan masterOrError, 1)
	go func() {
		c, err := recvMaster(t.parent, stdio.ClearONLCR)
		t.received <- masterOrError{c, err}
	}()
	if stdio.Stdin != nil {
		if c, err := console.ConsoleFromFile(stdio.Stdin); err == nil {
			t.host = c
			if sz, err := c.Size(); err == nil {
				p.ConsoleWidth, p.ConsoleHeight = sz.Width, sz.Height
			}
		}
	}
	return t, nil
}

// recvMaster receives the pty master from the container's init and, if
// clearONLCR, clears its output processing. It returns once the init sent
// it or closed its end of the socket.
func recvMaster(sock *os.File, clearONLCR bool) (console.Console, error) {
	master, err := recvFile(sock)
	if err != nil {
		return nil, fmt.Errorf("receiving the container's terminal: %w", err)
	}
	c, err := console.ConsoleFromFile(master)
	if err != nil {
		master.Close()
		return nil, err
	}
	if clearONLCR {
		_ = console.ClearONLCR(c.Fd())
	}
	return c, nil
}

// Attach takes the pty master once received and starts copying.
func (t *terminal) Attach() error {
	stdio := t.stdio
	r := <-t.received
	if r.err != nil {
		return r.err
	}
	c := r.master
	t.master = c
	if t.host != nil {
		if err := t.host.SetRaw(); err != nil {
			return fmt.Errorf("setting the terminal raw: %w", err)
		}
	}
	if stdio.Stdin != nil {
		go func() { _, _ = io.Copy(c, stdio.Stdin) }()
	}
	t.copied.Add(1)
	go func() {
		defer t.copied.Done()
		_, _ = io.Copy(stdio.Stdout, c)
	}()
	return nil
}

// Resize gives the container's terminal the host terminal's size.
func (t *terminal) Resize() {
	if t.host == nil || t.master == nil {
		return
	}
	_ = t.master.ResizeFrom(t.host)
}

// Wait waits until the container's output has been copied out.
func (t *terminal) Wait() {
	t.copied.Wait()
}

// Close restores the host terminal and closes the pty.
func (t *terminal) Close() {
	if t.host != nil {
		_ = t.host.Reset()
	}
	_ = t.child.Close()
	if t.master == nil {
		// A master received but never attached (the start failed).
		select {
		case r := <-t.received:
			t.master = r.master
		default:
		}
	}
	if t.master != nil {
		_ = t.master.Close()
	}
	_ = t.parent.Close()
}

// recvFile receives one file descriptor sent with SCM_RIGHTS.
func recvFile(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("no file descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("no file descriptor received")
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
