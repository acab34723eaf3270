package images

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// stoppedHolderGrace is how long a waiter lets the holder of a lock stay
// stopped (SIGSTOP, a suspended job) before it gives up: a stopped holder
// holds everyone up for as long as it stays stopped.
const stoppedHolderGrace = 5 * time.Second

// lockFile takes an exclusive flock on path, polling until ctx is done or
// timeout passes. The lock goes away with the process, so a killed dockless
// never leaves the store locked. The holder writes its pid into the file,
// so that a waiter can name it, and give up at once with an error that
// says so when the holder is stopped.
func lockFile(ctx context.Context, path string, timeout time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening store lock: %w", err)
	}
	deadline := time.Now().Add(timeout)
	var stoppedSince time.Time
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			// Best effort: a waiter that cannot read a pid just waits.
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return f, nil
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		holder := lockHolder(f)
		switch {
		case !processStopped(holder):
			stoppedSince = time.Time{}
		case stoppedSince.IsZero():
			stoppedSince = time.Now()
		case time.Since(stoppedSince) > stoppedHolderGrace:
			f.Close()
			return nil, fmt.Errorf("the image store is locked by dockless process %d, which is stopped (SIGSTOP, or its job suspended) and holds up every pull and container start of the node until it continues: resume it (kill -CONT %d, bresume) or end it, then retry (%s)", holder, holder, path)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("the image store is locked by another dockless process (%s, waited %s for %s): retry later", holderName(holder), timeout, path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockHolder reads the pid the holder of a lock file wrote (0: none yet).
func lockHolder(f *os.File) int {
	b := make([]byte, 16)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:n])))
	if err != nil {
		return 0
	}
	return pid
}

func holderName(pid int) string {
	if pid <= 0 {
		return "pid unknown"
	}
	return "pid " + strconv.Itoa(pid)
}

// processStopped reports whether process pid is stopped (by a signal or a
// tracer), from its state in /proc.
func processStopped(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold anything but its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] == 'T' || b[i+2] == 't'
}
