package container

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/runtime/deadarch"
	"github.com/dockless/dockless/spec"
)

// kernelArchs is the record, in the node's state, of the seccomp
// architectures the kernel runs no system call of, for one boot.
type kernelArchs struct {
	Boot   string `json:"boot"`
	NoX32  bool   `json:"noX32"`
	NoIA32 bool   `json:"noIA32"`
}

// deadArchs is host with the architectures the kernel runs no system call
// of (package deadarch), asked once per boot of the node: the x86 probe
// starts a program, 1 to 4 ms of every start here, and the answer is the
// kernel's, the same until it boots again. It is kept in the node's state
// (root's); a record of another boot, or none, is asked again and
// rewritten. A conservative answer (a section kept) is never wrong, only
// slower, so whatever the record says stands for its boot.
func (n *Node) deadArchs(host spec.Host) spec.Host {
	path := filepath.Join(n.State, "kernel-archs")
	boot := images.BootID()
	var rec kernelArchs
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &rec) == nil && boot != "" && rec.Boot == boot {
		host.NoX32, host.NoIA32 = rec.NoX32, rec.NoIA32
		return host
	}
	rec = kernelArchs{Boot: boot, NoX32: !deadarch.KernelTakesX32(), NoIA32: !deadarch.KernelRunsIA32()}
	host.NoX32, host.NoIA32 = rec.NoX32, rec.NoIA32
	if boot != "" {
		b, err := json.Marshal(rec)
		if err == nil {
			err = images.WriteWhole(path, b)
		}
		if err != nil {
			n.Log.Debugf("keeping the kernel's architectures: %v", err)
		}
	}
	return host
}
