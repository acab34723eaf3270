package runtime

import (
	"os"
	goruntime "runtime"

	"golang.org/x/sys/unix"

	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // nsexec runs before the Go runtime in "init"
)

// IsInit reports whether this process is a container init that libcontainer
// re-executed; main must then call Init before anything else.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == "init"
}

// Init runs the container's init inside the new namespaces and never returns.
// It first asks the kernel to SIGKILL this process when its parent (the
// dockless that runs the container; libcontainer clones the init as
// dockless's child) dies: a job container must not outlive its job.
// libcontainer keeps the setting across the credential change.
func Init() {
	// The setting is per thread: set it on the thread that will exec the
	// container's process (libcontainer's init stays on this locked one).
	goruntime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	libcontainer.Init()
}
