package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// stoppedHolderGrace is how long a waiter lets the holder of a lock stay
// stopped (SIGSTOP, a suspended job) or frozen (its cgroup's freezer)
// before it ends the holder: a holder that cannot go on holds up every pull
// and container start of the node for as long as it stays so, and its
// owner decides how long that is (a user freezes a cgroup of their own
// with their dockless in it, a terminal stops it).
const stoppedHolderGrace = 5 * time.Second

// lockFile takes a flock on path, exclusive or shared (mode), waiting
// until ctx is done or timeout passes. The wait is the kernel's: the lock passes to a waiter the
// moment its holder lets go, so that a storm of starts on one node does not
// leave the lock idle between them. The lock goes away with the process, so
// a killed dockless never leaves the store locked. An exclusive holder
// writes its pid into the file, so that a waiter can name it (shared
// holders are many: a waiter finds them in the kernel's lock table). A holder that stays
// stopped or frozen for stoppedHolderGrace is killed (SIGKILL) by the
// waiter, once the kernel's lock table confirms it holds the lock and it
// runs this very program: the store is safe against a holder killed at any
// point, and the waiter says on log whom it killed and why.
func lockFile(ctx context.Context, path string, mode lockMode, timeout time.Duration, log logrus.FieldLogger) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening store lock: %w", err)
	}
	err = unix.Flock(int(f.Fd()), int(mode)|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK && mode == tryExclusive {
		err = errLockBusy
	} else if err == unix.EWOULDBLOCK {
		err = waitLock(ctx, f, path, mode, timeout, log)
	} else if err != nil {
		err = fmt.Errorf("locking %s: %w", path, err)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if mode == shared {
		return f, nil
	}
	// Best effort: a waiter that cannot read a pid just waits.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// lockMode is how a lock is taken: exclusive (to change the store) or
// shared (to read it, and to add a container's writable layer: layer.go).
type lockMode int

const (
	exclusive lockMode = unix.LOCK_EX
	shared    lockMode = unix.LOCK_SH
	// tryExclusive takes the lock exclusive only if it is free
	// (errLockBusy otherwise): for what may as well be left undone.
	tryExclusive lockMode = unix.LOCK_EX | unix.LOCK_NB
)

// lockTimeout is a wait for the lock that ran out of time: another try
// would wait as long.
type lockTimeout struct{ error }

func (e lockTimeout) Unwrap() error { return e.error }

// errLockBusy is a tryExclusive lock's answer when another process holds
// the lock.
var errLockBusy = errors.New("the image store is busy")

// holderCheckInterval is how often a waiter looks whether the holder is
// stopped or frozen.
const holderCheckInterval = 100 * time.Millisecond

// waitLock waits in the kernel for the flock on f, which another process
// holds. A blocked flock cannot be called off: it waits on a duplicate of
// f, and when the waiter gives up (ctx, timeout) whoever takes the result
// closes the duplicate — the caller closes f — so that a lock granted late
// is let go at once. A waiter that gave up keeps a thread and a descriptor
// until then: dockless gives up once per command, and exits soon after.
func waitLock(ctx context.Context, f *os.File, path string, mode lockMode, timeout time.Duration, log logrus.FieldLogger) error {
	dup, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	got := make(chan error, 1)
	go func() {
		err := unix.Flock(dup, int(mode))
		for err == unix.EINTR {
			err = unix.Flock(dup, int(mode))
		}
		got <- err
	}()
	giveUp := func() { go func() { <-got; unix.Close(dup) }() }
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	check := time.NewTicker(holderCheckInterval)
	defer check.Stop()
	var w stuckWatch
	for {
		select {
		case err := <-got:
			unix.Close(dup)
			if err != nil {
				return fmt.Errorf("locking %s: %w", path, err)
			}
			return nil
		case <-ctx.Done():
			giveUp()
			return ctx.Err()
		case <-deadline.C:
			holder := lockHolder(f)
			giveUp()
			if stuck := holderStuck(holder); stuck != "" {
				return lockTimeout{fmt.Errorf("the image store is locked by dockless process %d, which is %s (SIGKILL does not reach a task of a frozen cgroup v1 freezer until it thaws): thaw or end it, then retry (%s)", holder, stuck, path)}
			}
			return lockTimeout{fmt.Errorf("the image store is locked by another dockless process (%s, waited %s for %s): retry later", holderName(holder), timeout, path)}
		case <-check.C:
			if err := w.check(f, path, log); err != nil {
				giveUp()
				return err
			}
		}
	}
}

// stuckWatch follows the holder of a lock while a waiter waits, and ends a
// holder that stays stopped or frozen for stoppedHolderGrace.
type stuckWatch struct {
	since  time.Time
	killed int
}

func (w *stuckWatch) check(f *os.File, path string, log logrus.FieldLogger) error {
	holder := lockHolder(f)
	stuck := holderStuck(holder)
	switch {
	case stuck == "":
		w.since = time.Time{}
	case w.since.IsZero():
		w.since = time.Now()
	case time.Since(w.since) > stoppedHolderGrace && w.killed != holder:
		if err := killStuckHolder(f, holder); err != nil {
			return fmt.Errorf("the image store is locked by dockless process %d, which is %s and holds up every pull and container start of the node, and could not be ended (%v): end it, then retry (%s)", holder, stuck, err, path)
		}
		log.Warnf("ended dockless process %d (SIGKILL): it held the image store's lock while %s for over %s, holding up every pull and container start of the node", holder, stuck, stoppedHolderGrace)
		w.killed = holder
	}
	return nil
}

// killStuckHolder sends SIGKILL to pid once the kernel's lock table says
// pid holds the flock on f and pid runs the same executable as this
// process: the pid written in the file might be stale, or forged into a
// reused pid, and nothing but a dockless is ever killed.
func killStuckHolder(f *os.File, pid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if !flockHeldBy(st.Dev, st.Ino, pid) {
		return fmt.Errorf("the kernel's lock table does not show process %d holding the lock", pid)
	}
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		return err
	}
	exe, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil || !os.SameFile(self, exe) {
		return fmt.Errorf("process %d does not run this dockless", pid)
	}
	return unix.Kill(pid, unix.SIGKILL)
}

// flockHeldBy reports whether /proc/locks shows pid holding (not waiting
// for) a flock on the file dev:ino.
func flockHeldBy(dev, ino uint64, pid int) bool {
	return slices.Contains(flockHolders(dev, ino), pid)
}

// flockHolders are the pids /proc/locks shows holding (not waiting for) a
// flock on the file dev:ino (0 for a holder outside this PID namespace).
func flockHolders(dev, ino uint64) []int {
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	var pids []int
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// "1: FLOCK  ADVISORY  WRITE 123 fe:00:4567 0 EOF"; a waiter's line
		// has "->" after the number.
		if len(f) >= 6 && f[1] == "FLOCK" && f[5] == want {
			if pid, err := strconv.Atoi(f[4]); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// lockHolder is the holder of the lock on f: of the other processes the
// kernel's lock table shows holding it (one exclusive holder, or any
// number of shared ones), one that is stopped or frozen, else the first;
// else the pid the exclusive holder wrote in the file (0: none yet; the
// last holder's, once this process holds it). The table knows a holder
// that has not written its pid yet (stopped right after it got the lock),
// or never will (a shared one).
func lockHolder(f *os.File) int {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) == nil {
		var others []int
		for _, pid := range flockHolders(st.Dev, st.Ino) {
			if pid > 0 && pid != os.Getpid() {
				others = append(others, pid)
			}
		}
		for _, pid := range others {
			if holderStuck(pid) != "" {
				return pid
			}
		}
		if len(others) > 0 {
			return others[0]
		}
	}
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

// holderStuck says why process pid cannot go on ("stopped", "frozen"), or
// "" when it can or is unknown.
func holderStuck(pid int) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// pid (comm) state ...: comm may hold anything but its last ')'.
	if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
		return "stopped"
	}
	if processFrozen(pid) {
		return "frozen"
	}
	return ""
}

// processFrozen reports whether the cgroup of process pid is frozen: by the
// cgroup v2 freezer (cgroup.events "frozen 1", which a user can do to a
// cgroup delegated to them) or the v1 one (freezer.state FROZEN or
// FREEZING).
func processFrozen(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		id, rest, _ := strings.Cut(line, ":")
		controllers, path, ok := strings.Cut(rest, ":")
		if !ok || strings.Contains(path, "..") {
			continue
		}
		switch {
		case id == "0" && controllers == "":
			for _, mnt := range cgroupMounts("cgroup2", "") {
				ev, err := os.ReadFile(filepath.Join(mnt, path, "cgroup.events"))
				if err == nil && strings.Contains("\n"+string(ev), "\nfrozen 1") {
					return true
				}
			}
		case slices.Contains(strings.Split(controllers, ","), "freezer"):
			for _, mnt := range cgroupMounts("cgroup", "freezer") {
				st, err := os.ReadFile(filepath.Join(mnt, path, "freezer.state"))
				if s := strings.TrimSpace(string(st)); err == nil && (s == "FROZEN" || s == "FREEZING") {
					return true
				}
			}
		}
	}
	return false
}

// cgroupMounts lists the mount points of this mount namespace's cgroup
// file systems of type fstype (cgroup2, or cgroup with controller among
// its options).
func cgroupMounts(fstype, controller string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		// "id parent maj:min root mountpoint options ... - fstype source superoptions"
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || g[0] != fstype {
			continue
		}
		if controller == "" || slices.Contains(strings.Split(g[2], ","), controller) {
			out = append(out, f[4])
		}
	}
	return out
}
