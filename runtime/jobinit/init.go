package jobinit

import (
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Init runs the container's init inside the new namespaces and never returns.
// It closes the descriptor of its own executable that libcontainer leaves
// it (closeExeDescriptors).
// For a job container (log level JobLogLevel) it first asks the kernel to
// SIGKILL this process when its parent (the dockless that runs the
// container; libcontainer clones the init as dockless's child) dies: a job
// container must not outlive its job. libcontainer keeps the setting
// across the credential change.
//
// The init takes its whole configuration from descriptors named in its
// environment, so only dockless may start it: an AT_SECURE exec (a setuid
// binary run by a user) is refused here, as dockless's entry guard refuses
// it before nsexec (runtime/secure.go).
//
// The init runs no garbage collector: dockless lowers its RLIMIT_AS and
// RLIMIT_DATA while it waits to exec (runtime/rlimits.go), below what it
// has mapped already, and a collection then (one still marking, or the
// mark bits of a new cycle) fails to map memory and kills the init
// ("fatal error: runtime: cannot allocate memory"). The init lives for its
// setup only; what it allocates is dropped at the exec.
func Init() {
	debug.SetGCPercent(-1)
	if SecureExec() {
		fmt.Fprintln(os.Stderr, "dockless: refused: libcontainer's init is started only by dockless itself, never through the setuid binary; start containers with dockless run or dockless lsf run")
		os.Exit(125)
	}
	closeExeDescriptors()
	if os.Getenv("_LIBCONTAINER_LOGLEVEL") == JobLogLevel {
		// The setting is per thread: set it on the thread that will exec
		// the container's process (libcontainer's init stays on this one).
		goruntime.LockOSThread()
		_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
		// nsexec makes the init non-dumpable only where it joins
		// namespaces, which a job container does not; the init holds its
		// descriptors to dockless (the init and sync sockets, the exec
		// fifo) until it executes the container's process, and a process
		// dockless exec starts in the container meanwhile must not reach
		// them through /proc. The exec makes the process dumpable again.
		// (An init in a user namespace, the OCI interface's, could not
		// write its own /proc files then: it keeps libcontainer's way.)
		_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	}
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&initName[0])), 0, 0, 0)
	libcontainer.Init()
}

// initName is the init's name until it executes the container's process,
// as runc's (the small init's would be the number of the descriptor it was
// executed from).
var initName = []byte("runc:[2:INIT]\x00")

// JobLogLevel marks the init of a foreground job container. libcontainer
// passes the init nothing of dockless's own but its log level, so dockless
// sets the init's log level (logrus Warn, which changes nothing visible:
// dockless shows only errors) to tell Init to tie the container to its
// dockless. Containers created through the OCI interface (dockless-runc
// create) must outlive the command that created them and do not set it.
var JobLogLevel = strconv.Itoa(int(logrus.WarnLevel))

// atSecure is AT_SECURE's key in the auxiliary vector (<elf.h>).
const atSecure = 23

// SecureExec reports whether the kernel marked this exec AT_SECURE (a
// setuid or setgid binary run by another user), from the auxiliary vector
// the Go runtime keeps: no cgo, no /proc.
func SecureExec() bool {
	v, err := unix.Auxv()
	if err != nil {
		return true // unknown: refuse
	}
	for _, kv := range v {
		if kv[0] == atSecure {
			return kv[1] != 0
		}
	}
	return false
}
