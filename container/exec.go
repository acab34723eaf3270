package container

import (
	"path/filepath"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are docker exec's: the command and its overrides of the
// container's process.
type ExecOptions struct {
	Args, Env []string
	// User is docker's -u, resolved in the container ("": the container's).
	User string
	// Workdir is an absolute path in the container ("": the container's).
	Workdir string
	Tty     bool
}

// Exec runs a process in the container r: the container's own process
// settings (environment, capabilities, no-new-privileges, label) with the
// exec's command and overrides, as docker exec does. It returns the
// process's exit status.
func (n *Node) Exec(r *Record, o ExecOptions, stdio runtime.IO) (int, error) {
	s, err := n.Config(r)
	if err != nil {
		return -1, err
	}
	p := *s.Process
	p.Args, p.Terminal, p.ConsoleSize = o.Args, o.Tty, nil
	if o.Workdir != "" {
		if p.Cwd, err = spec.ParseWorkdir(o.Workdir); err != nil {
			return -1, err
		}
	}
	opts := []spec.Opt{spec.WithEnv(o.Env), spec.WithTTY(o.Tty)}
	if o.User != "" {
		u, err := spec.ResolveUser(filepath.Join(n.dir(r.ID), "rootfs"), o.User, nil)
		if err != nil {
			return -1, err
		}
		if err := n.Policy.CheckUser(u, n.Caller); err != nil {
			return -1, err
		}
		ambient := p.Capabilities != nil && len(p.Capabilities.Ambient) > 0
		var bounding []string
		if p.Capabilities != nil {
			bounding = p.Capabilities.Bounding
		}
		opts = append(opts, spec.WithUser(u), spec.WithCapabilities(bounding, ambient))
	}
	ps := &specs.Spec{Process: &p}
	for _, o := range opts {
		if err := o(ps); err != nil {
			return -1, err
		}
	}
	exit, err := runtime.Exec(n.runcRoot(), r.ID, ps.Process, stdio, nil, nil)
	n.ran()
	return exit.Code, err
}
