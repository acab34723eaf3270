package runtime

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // nsexec runs before the Go runtime in "init"
)

// IsInit reports whether this process is a container init that libcontainer
// re-executed; main must then call Init before anything else.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == "init"
}

// Init runs the container's init inside the new namespaces and never returns.
func Init() {
	libcontainer.Init()
}
