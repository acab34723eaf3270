package spec

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// InitInContainer is where docker's --init puts its init, and dockless
// its own.
const InitInContainer = "/sbin/docker-init"

// WithInit runs the process under an init, as docker's --init: the
// node's init program (dockless-init) is bound read-only, without set-id
// bits, at InitInContainer, and runs as PID 1 with the command after "--".
// It comes after WithArgs, and after the mounts so that none hides it.
func WithInit(on bool, initPath string) Opt {
	return func(s *specs.Spec) error {
		if !on {
			return nil
		}
		if initPath == "" {
			return errors.New("--init: this node has no init to bind into the container (dockless-init, installed beside dockless, root's and writable by no one else)")
		}
		p := setProcess(s)
		p.Args = append([]string{InitInContainer, "--"}, p.Args...)
		replaceMount(s, specs.Mount{Destination: InitInContainer, Type: "bind", Source: initPath,
			Options: []string{"rbind", "rprivate", "ro", "nosuid", "nodev"}})
		return nil
	}
}

// WithHolder makes the container's process a holder, for a container that
// processes join later (the per-host container of an LSF parallel job):
// the node's init program, bound as WithInit binds it, runs
// "InitInContainer --hold" as PID 1 without a terminal; it only reaps, and
// needs nothing of the image (no shell, no sleep).
func WithHolder(initPath string) Opt {
	return func(s *specs.Spec) error {
		if initPath == "" {
			return errors.New("a container that tasks join needs the node's init to hold it (dockless-init, installed beside dockless, root's and writable by no one else): ask the administrator to install it")
		}
		p := setProcess(s)
		p.Args, p.Terminal, p.ConsoleSize = []string{InitInContainer, "--hold"}, false, nil
		replaceMount(s, specs.Mount{Destination: InitInContainer, Type: "bind", Source: initPath,
			Options: []string{"rbind", "rprivate", "ro", "nosuid", "nodev"}})
		return nil
	}
}
