package spec

import (
	"encoding/json"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Opt sets one concern of a runtime spec.
type Opt func(*specs.Spec) error

// New returns Default() with opts applied in order.
func New(opts ...Opt) (*specs.Spec, error) {
	s := Default()
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func setProcess(s *specs.Spec) *specs.Process {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	return s.Process
}

func setLinux(s *specs.Spec) *specs.Linux {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	return s.Linux
}

func setResources(s *specs.Spec) *specs.LinuxResources {
	l := setLinux(s)
	if l.Resources == nil {
		l.Resources = &specs.LinuxResources{}
	}
	return l.Resources
}

func setMemory(s *specs.Spec) *specs.LinuxMemory {
	r := setResources(s)
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	return r.Memory
}

func setCPU(s *specs.Spec) *specs.LinuxCPU {
	r := setResources(s)
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	return r.CPU
}

// replaceMount puts m in place of any mount at the same destination, or
// appends it.
func replaceMount(s *specs.Spec, m specs.Mount) {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == m.Destination {
			s.Mounts[i] = m
			return
		}
	}
	s.Mounts = append(s.Mounts, m)
}

// WriteJSON writes v as config.json is written: indented with tabs.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	return enc.Encode(v)
}
