package build

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Rlimit is one resource limit of the caller, by resource number.
type Rlimit struct {
	Resource int    `json:"resource"`
	Cur      uint64 `json:"cur"`
	Max      uint64 `json:"max"`
}

// ApplyRlimits sets the caller's own resource limits on this process
// (dockless-build), which the setuid entry of dockless had lifted: a
// build gets no more than its caller had.
func ApplyRlimits(limits []Rlimit) error {
	for _, l := range limits {
		if err := unix.Setrlimit(l.Resource, &unix.Rlimit{Cur: l.Cur, Max: l.Max}); err != nil {
			return fmt.Errorf("setting resource limit %d: %w", l.Resource, err)
		}
	}
	return nil
}
