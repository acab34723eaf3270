package runtime

import (
	"os"

	"github.com/dockless/dockless/runtime/jobinit"
)

// IsInit reports whether this process is a container init that libcontainer
// re-executed; main must then call Init before anything else.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == "init"
}

// Init runs the container's init (package jobinit) and never returns.
func Init() { jobinit.Init() }

// jobLogLevel marks the init of a foreground job container (jobinit).
var jobLogLevel = jobinit.JobLogLevel
