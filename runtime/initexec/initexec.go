package initexec

// void dockless_init_exec_linked(void);
import "C"

import (
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // nsexec runs before the Go runtime in "init"
)

// The constructor is in initexec.c; this keeps its object in the link.
var _ = C.dockless_init_exec_linked
