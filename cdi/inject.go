package cdi

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	cdilib "tags.cncf.io/container-device-interface/pkg/cdi"
	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// Caller is who the devices are for, as far as injecting them matters.
type Caller struct {
	// Trusted callers (root, [callers] trusted) may have any group a spec
	// adds to the process.
	Trusted bool
	// Groups are the caller's own groups.
	Groups []uint32
}

// Inject applies the CDI devices names to s, a built runtime spec: each
// spec's own edits once, then each device's (device nodes with their
// device cgroup rules, mounts, environment, hooks), with CDI's own Apply.
// Before, it refuses a name no spec defines, a hook outside [gpu]
// allowed_hooks or not root's alone, and a group the caller is not in;
// device nodes keep the host node's owner. The request's own environment
// (env, KEY=VALUE) wins over a spec's. After, the device cgroup must
// have gained exactly the injected nodes.
func (s *Specs) Inject(oci *specs.Spec, names []string, env []string, c Caller) error {
	if len(names) == 0 {
		return nil
	}
	edits, err := s.edits(names)
	if err != nil {
		return err
	}
	for _, h := range edits.Hooks {
		if err := s.checkHook(h.Path); err != nil {
			return err
		}
	}
	for _, g := range edits.AdditionalGIDs {
		if !c.Trusted && g != 0 && !slices.Contains(c.Groups, g) {
			return fmt.Errorf("CDI devices %s: the spec adds group %d to the container's process: refused by the trust model (only your own groups)", strings.Join(names, ", "), g)
		}
	}
	for i, d := range edits.DeviceNodes {
		edits.DeviceNodes[i] = hostOwner(d)
	}
	rules := 0
	if oci.Linux != nil && oci.Linux.Resources != nil {
		rules = len(oci.Linux.Resources.Devices)
	}
	if err := edits.Apply(oci); err != nil {
		return fmt.Errorf("CDI devices %s: %w", strings.Join(names, ", "), err)
	}
	keepEnv(oci, edits.Env, env)
	return checkDeviceRules(oci, rules)
}

// edits gathers the edits of the devices names: the spec's own once per
// spec, then each device's.
func (s *Specs) edits(names []string) (*cdilib.ContainerEdits, error) {
	edits := &cdilib.ContainerEdits{ContainerEdits: &cdispec.ContainerEdits{}}
	var missing []string
	var seen []*cdilib.Spec
	for _, n := range names {
		var d *cdilib.Device
		if s.cache != nil {
			d = s.cache.GetDevice(n)
		}
		if d == nil {
			missing = append(missing, n)
			continue
		}
		if sp := d.GetSpec(); !slices.Contains(seen, sp) {
			seen = append(seen, sp)
			edits.Append(&cdilib.ContainerEdits{ContainerEdits: &sp.ContainerEdits})
		}
		edits.Append(&cdilib.ContainerEdits{ContainerEdits: &d.ContainerEdits})
	}
	if missing != nil {
		msg := fmt.Sprintf("unresolvable CDI devices %s: no spec in %s (%s) defines them: dockless cdi list shows the node's; root makes a spec with dockless cdi generate",
			strings.Join(missing, ", "), specRule, strings.Join(s.Dirs, ", "))
		if s.Problems != nil {
			msg += " (" + strings.Join(s.Problems, "; ") + ")"
		}
		return nil, errors.New(msg)
	}
	return edits, nil
}

// checkHook refuses a hook that is not in [gpu] allowed_hooks or that
// someone but root could change: hooks run as root.
func (s *Specs) checkHook(path string) error {
	if !slices.Contains(s.AllowedHooks, filepath.Clean(path)) {
		return fmt.Errorf("CDI hook %s: refused by %s: hooks run as root, and only %s may: add it there if the site trusts it", path, hookRule, strings.Join(s.AllowedHooks, ", "))
	}
	return checkFile("CDI hook", hookRule, path)
}

// hostOwner is a copy of the device node d owned as the host's node is
// (root where the host has none): CDI would give a node with no owner to
// the process's user, whatever the host's permissions.
func hostOwner(d *cdispec.DeviceNode) *cdispec.DeviceNode {
	c := *d
	var uid, gid uint32
	host := c.HostPath
	if host == "" {
		host = c.Path
	}
	var st unix.Stat_t
	if unix.Stat(host, &st) == nil {
		uid, gid = st.Uid, st.Gid
	}
	if c.UID == nil {
		c.UID = &uid
	}
	if c.GID == nil {
		c.GID = &gid
	}
	return &c
}

// keepEnv puts back the request's value of each variable a spec set: the
// request (-e, the LSF job's renumbered GPU variables) wins over the spec,
// the spec over the image.
func keepEnv(oci *specs.Spec, set, env []string) {
	own := map[string]string{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		own[k] = kv
	}
	bySpec := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		bySpec[k] = true
	}
	for i, kv := range oci.Process.Env {
		if k, _, _ := strings.Cut(kv, "="); bySpec[k] && own[k] != "" {
			oci.Process.Env[i] = own[k]
		}
	}
}

// checkDeviceRules checks what the edits did to the device cgroup: the
// rules before them are kept, and each rule they added allows one device
// node of the spec, by type and numbers (CDI's Apply never adds a deny).
func checkDeviceRules(oci *specs.Spec, before int) error {
	if oci.Linux == nil || oci.Linux.Resources == nil {
		return nil
	}
	for _, r := range oci.Linux.Resources.Devices[before:] {
		ok := r.Allow && r.Major != nil && r.Minor != nil && slices.ContainsFunc(oci.Linux.Devices, func(d specs.LinuxDevice) bool {
			return d.Type == r.Type && d.Major == *r.Major && d.Minor == *r.Minor
		})
		if !ok {
			return fmt.Errorf("CDI edits added device cgroup rule %+v, which allows no device node they added: refusing to run", r)
		}
	}
	return nil
}
