package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/dockless/dockless/spec"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// libcontainer sets a container's rlimits on its init as soon as the init
// reports ready, and the init then still loads the seccomp filter, in Go
// and libseccomp. A Go process has over 1 GiB of address space reserved
// from its start, so under an RLIMIT_AS below that (runtime-tools'
// process_rlimits sets 1 GiB) every new mapping fails and the container
// with it ("error adding seccomp filter rule ...: cannot allocate
// memory", or the Go runtime's own out of memory); a small RLIMIT_DATA
// does the same to the heap. dockless therefore keeps the two
// address-space limits from libcontainer and sets them itself once the
// init is set up and waits to exec the container's process (Create and
// Run, between libcontainer's Start and Exec). A process added with exec
// has no such pause; its limits stay libcontainer's.

// lateRlimits are the limits set after the init's setup.
var lateRlimits = []int{unix.RLIMIT_AS, unix.RLIMIT_DATA}

// takeLateRlimits removes the late limits from rl and returns both parts.
func takeLateRlimits(rl []configs.Rlimit) (early, late []configs.Rlimit) {
	for _, r := range rl {
		if slices.Contains(lateRlimits, r.Type) {
			late = append(late, r)
		} else {
			early = append(early, r)
		}
	}
	return early, late
}

func rlimitName(t int) string {
	for name, v := range spec.RlimitResources {
		if v == t {
			return name
		}
	}
	return strconv.Itoa(t)
}

// setLateRlimits sets rl on process pid. Lowering another process's
// limits needs CAP_SYS_RESOURCE or the process's own real ids; where root
// lacks the capability the limits are set from a thread that takes the
// process's real uid and gid for the call (keeping euid 0).
func setLateRlimits(pid int, rl []configs.Rlimit) error {
	for _, r := range rl {
		lim := &unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		err := unix.Prlimit(pid, r.Type, lim, nil)
		if errors.Is(err, unix.EPERM) {
			err = asRealIDsOf(pid, func() error { return unix.Prlimit(pid, r.Type, lim, nil) })
		}
		if err != nil {
			return fmt.Errorf("setting %s (soft %d, hard %d) of the container's process: %w", rlimitName(r.Type), r.Soft, r.Hard, err)
		}
	}
	return nil
}

// asRealIDsOf runs fn on a thread whose real uid and gid are those of
// process pid. The thread is discarded if it cannot be given its ids back.
func asRealIDsOf(pid int, fn func() error) error {
	uid, gid, err := realIDs(pid)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		ruid, rgid := unix.Getuid(), unix.Getgid()
		// Raw syscalls: the change is for this thread only.
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), ^uintptr(0), ^uintptr(0)); e != 0 {
			done <- e
			return // the thread ends with its goroutine
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), ^uintptr(0), ^uintptr(0)); e != 0 {
			done <- e
			return
		}
		err := fn()
		_, _, e1 := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(ruid), ^uintptr(0), ^uintptr(0))
		_, _, e2 := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(rgid), ^uintptr(0), ^uintptr(0))
		done <- err
		if e1 == 0 && e2 == 0 {
			goruntime.UnlockOSThread()
		}
	}()
	return <-done
}

// realIDs reads the real uid and gid of process pid (as the host sees
// them) from /proc.
func realIDs(pid int) (uid, gid int, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	uid, gid = -1, -1
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "Uid":
			uid, err = strconv.Atoi(fields[0])
		case "Gid":
			gid, err = strconv.Atoi(fields[0])
		}
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
		}
	}
	if uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no Uid or Gid", pid)
	}
	return uid, gid, s.Err()
}
