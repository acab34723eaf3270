package runtime

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// terminal is the pseudo-terminal of a container started with a TTY: the
// container's init creates it and sends the master over a socket pair; this
// side copies it to and from dockless's stdio and keeps the host terminal
// in raw mode until Close. The pty keeps its output processing (ONLCR), as
// docker's does: the container's LF reaches dockless's stdout as CRLF,
// terminal or not. With a console socket the master goes there
// instead and only child (the connection to it) is set.
type terminal struct {
	parent, child *os.File
	master        console.Console
	host          console.Console // nil when stdin is not a terminal
	stdio         IO
	copied        sync.WaitGroup
}

func newTerminal(p *libcontainer.Process, stdio IO) (*terminal, error) {
	if stdio.ConsoleSocket != "" {
		sock, err := dialConsole(stdio.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		p.ConsoleSocket = sock
		return &terminal{child: sock}, nil
	}
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

// Attach receives the pty master and starts copying (nothing to do when
// the master went to a console socket).
func (t *terminal) Attach() error {
	if t.parent == nil {
		return nil
	}
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
	if t.parent != nil {
		_ = t.parent.Close()
	}
	_ = t.child.Close()
}

// errConsoleWithoutTTY refuses a console socket for a process that has no
// terminal to send.
var errConsoleWithoutTTY = errors.New("--console-socket needs a process with a terminal")

// dialConsole connects to a console socket that the container's pty
// master is to be sent to.
func dialConsole(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	return f, nil
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
