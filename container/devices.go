package container

import (
	"github.com/dockless/dockless/cdi"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// injectDevices applies the request's CDI devices to the built spec,
// from the node's specs in [gpu] cdi_spec_dirs (cdi.Specs.Inject): before
// the mount tree places the mounts, so the spec's mounts and device nodes
// follow its rules like any other.
func (l *launch) injectDevices(s *specs.Spec) error {
	if len(l.req.CDIDevices) == 0 {
		return nil
	}
	pol, c := l.n.Policy, l.n.Caller
	devices, err := cdi.Load(pol.GPU.CDISpecDirs, pol.GPU.AllowedHooks)
	if err != nil {
		return err
	}
	groups := append([]uint32{c.GID}, c.Groups...)
	return devices.Inject(s, l.req.CDIDevices, l.req.Env, cdi.Caller{Trusted: pol.Trusted(c), Groups: groups})
}
