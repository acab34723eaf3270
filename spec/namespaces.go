package spec

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// WithoutNamespace removes a namespace so the container shares the host's.
func WithoutNamespace(t specs.LinuxNamespaceType) Opt {
	return func(s *specs.Spec) error {
		l := setLinux(s)
		var keep []specs.LinuxNamespace
		for _, ns := range l.Namespaces {
			if ns.Type != t {
				keep = append(keep, ns)
			}
		}
		l.Namespaces = keep
		return nil
	}
}

// WithNetwork sets docker's network mode: "host" shares the node's network
// namespace; "none" gives a private one with only loopback.
func WithNetwork(mode string) Opt {
	return func(s *specs.Spec) error {
		if _, err := ParseNetwork(mode); err != nil {
			return fmt.Errorf("network mode %q: %w", mode, err)
		}
		if mode == "host" {
			return WithoutNamespace(specs.NetworkNamespace)(s)
		}
		return nil
	}
}

// WithIPC sets docker's IPC mode: "", "private" and "shareable" keep a
// private IPC namespace; "host" shares the node's, with the node's
// /dev/shm.
func WithIPC(mode string) Opt {
	return func(s *specs.Spec) error {
		if _, err := ParseIPC(mode); err != nil {
			return fmt.Errorf("IPC mode %q: %w", mode, err)
		}
		if mode != "host" {
			return nil
		}
		replaceMount(s, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}})
		return WithoutNamespace(specs.IPCNamespace)(s)
	}
}
