package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NormalizeCapability turns docker's spellings ("chown", "CAP_CHOWN",
// "Chown") into "CAP_CHOWN", or "ALL"; unknown names are an error.
func NormalizeCapability(name string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	if up == "ALL" {
		return up, nil
	}
	if !strings.HasPrefix(up, "CAP_") {
		up = "CAP_" + up
	}
	for _, c := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(c.String()) == up {
			return up, nil
		}
	}
	return "", fmt.Errorf("unknown capability: %q", name)
}

// AllCapabilities lists every capability this kernel library knows.
func AllCapabilities() []string {
	var all []string
	for _, c := range capability.ListKnown() {
		all = append(all, "CAP_"+strings.ToUpper(c.String()))
	}
	return all
}

// Capabilities applies docker's --cap-add/--cap-drop rules to base: "ALL" in
// add grants everything except what drop names; "ALL" in drop starts from
// nothing but what add names; otherwise base minus drop plus add.
func Capabilities(base, add, drop []string) ([]string, error) {
	norm := func(in []string) ([]string, bool, error) {
		var out []string
		all := false
		for _, c := range in {
			n, err := NormalizeCapability(c)
			if err != nil {
				return nil, false, err
			}
			if n == "ALL" {
				all = true
				continue
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, all, nil
	}
	adds, addAll, err := norm(add)
	if err != nil {
		return nil, err
	}
	drops, dropAll, err := norm(drop)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case addAll:
		for _, c := range AllCapabilities() {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
	case dropAll:
		caps = adds
	default:
		for _, c := range base {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range adds {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	if caps == nil {
		caps = []string{}
	}
	return caps, nil
}

// WithCapabilities sets the capability sets the way docker does for the
// process user (set WithUser first): root gets caps as bounding, effective
// and permitted; any other user only the bounding set, as execve would leave
// it. With ambient set, a non-root user also gets them effective through the
// inheritable and ambient sets.
func WithCapabilities(caps []string, ambient bool) Opt {
	return func(s *specs.Spec) error {
		p := setProcess(s)
		c := append([]string{}, caps...)
		switch {
		case p.User.UID == 0:
			p.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c}
		case ambient:
			p.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c, Inheritable: c, Ambient: c}
		default:
			p.Capabilities = &specs.LinuxCapabilities{Bounding: c}
		}
		return nil
	}
}

// WithNoNewPrivileges sets the no_new_privs bit.
func WithNoNewPrivileges(on bool) Opt {
	return func(s *specs.Spec) error {
		setProcess(s).NoNewPrivileges = on
		return nil
	}
}

// WithSELinuxLabel sets the process label, only where SELinux is enabled
// (docker likewise ignores label options on hosts without SELinux).
func WithSELinuxLabel(label string, enabled bool) Opt {
	return func(s *specs.Spec) error {
		if enabled && label != "" {
			setProcess(s).SelinuxLabel = label
		}
		return nil
	}
}

// SELinuxLabel builds a process label from docker's --security-opt label=
// parts (user:, role:, type:, level:) over the container defaults.
func SELinuxLabel(parts []string) (string, error) {
	fields := map[string]string{"user": "system_u", "role": "system_r", "type": "container_t", "level": "s0"}
	for _, p := range parts {
		k, v, ok := strings.Cut(p, ":")
		if _, known := fields[k]; !ok || !known || v == "" {
			return "", fmt.Errorf("invalid --security-opt label=%s: want user:, role:, type: or level:", p)
		}
		fields[k] = v
	}
	return fields["user"] + ":" + fields["role"] + ":" + fields["type"] + ":" + fields["level"], nil
}

// withoutArch leaves the architecture arch out of the seccomp profile
// when the kernel runs no system call of it (dead: Host.NoX32 for x32,
// Host.NoIA32 for 32-bit x86). The filter is the same for every call such
// a kernel runs, and libseccomp compiles docker's profile in a fraction of
// the time (docs/BENCHMARKS.md): the compilation is in every container's
// start.
func withoutArch(arch specs.Arch, dead bool) Opt {
	return func(s *specs.Spec) error {
		if !dead || s.Linux == nil || s.Linux.Seccomp == nil {
			return nil
		}
		sc := s.Linux.Seccomp
		sc.Architectures = slices.DeleteFunc(slices.Clone(sc.Architectures), func(a specs.Arch) bool { return a == arch })
		return nil
	}
}

// WithSeccomp sets docker's default seccomp profile (profile ""), none
// ("unconfined"), or the docker-format JSON profile given. It depends on the
// capabilities, so it must come after WithCapabilities.
func WithSeccomp(profile string) Opt {
	return func(s *specs.Spec) error {
		l := setLinux(s)
		switch profile {
		case "unconfined":
			l.Seccomp = nil
			return nil
		case "":
			sc, err := seccomp.GetDefaultProfile(s)
			if err != nil {
				return fmt.Errorf("default seccomp profile: %w", err)
			}
			l.Seccomp = sc
			return nil
		default:
			sc, err := seccomp.LoadProfile(profile, s)
			if err != nil {
				return fmt.Errorf("seccomp profile: %w", err)
			}
			l.Seccomp = sc
			return nil
		}
	}
}
