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
// in raw mode until Close.
type terminal struct {
	parent, child *os.File
	master        console.Console
	host          console.Console // nil when stdin is not a terminal
	stdio         IO
	copied        sync.WaitGroup
}

func newTerminal(p *libcontainer.Process, stdio IO) (*terminal, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	t := &terminal{parent: os.NewFile(uintptr(fds[0]), "console-p"), child: os.NewFile(uintptr(fds[1]), "console-c"), stdio: stdio}
	p.ConsoleSocket = t.child
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

// Attach receives the pty master and starts copying.
func (t *terminal) Attach() error {
	stdio := t.stdio
	master, err := recvFile(t.parent)
	if err != nil {
		return fmt.Errorf("receiving the container's terminal: %w", err)
	}
	c, err := console.ConsoleFromFile(master)
	if err != nil {
		return err
	}
	t.master = c
	_ = console.ClearONLCR(c.Fd())
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
	if t.master != nil {
		_ = t.master.Close()
	}
	_ = t.parent.Close()
	_ = t.child.Close()
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
