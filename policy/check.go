package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Refusal is a request the policy does not allow: what was asked, the rule
// that refuses it (a key of the policy file) and what to do instead.
type Refusal struct {
	What, Rule, Fix string
	Source          string
}

func (r *Refusal) Error() string {
	msg := r.What + ": refused by " + r.Rule + " in " + r.Source
	if r.Fix != "" {
		msg += ": " + r.Fix
	}
	return msg
}

func (p *Policy) refuse(what, rule, fix string) error {
	return &Refusal{What: what, Rule: rule, Fix: fix, Source: p.Source()}
}

// Capabilities returns the job capability set in the canonical CAP_ form.
func (p *Policy) Capabilities() ([]string, error) {
	var caps []string
	for _, c := range p.Job.Capabilities {
		n, err := spec.NormalizeCapability(c)
		if err != nil || n == "ALL" {
			return nil, fmt.Errorf("policy %s: [job] capabilities: %q is not a capability", p.Source(), c)
		}
		caps = append(caps, n)
	}
	return caps, nil
}

// Apply sets what the policy decides of a container, before Check: the
// [job] capability set as the base, ambient capabilities, no-new-privileges
// and the SELinux label. They hold for the site's job container (LSF)
// whoever asks, and for any container of a caller who is not trusted; a
// trusted caller's `dockless run` keeps docker's defaults. A caller who is
// not trusted and names no user runs as themselves, with their groups.
func (p *Policy) Apply(req *spec.Request, c *Caller) error {
	if p.Trusted(c) && !req.SiteJob {
		return nil
	}
	if !p.Trusted(c) && !req.FixedUser && req.UserSpec == "" {
		req.UserSpec = fmt.Sprintf("%d:%d", c.UID, c.GID)
		for _, g := range c.Groups {
			req.GroupAdd = append(req.GroupAdd, fmt.Sprint(g))
		}
	}
	caps, err := p.Capabilities()
	if err != nil {
		return err
	}
	req.CapBase = caps
	req.AmbientCapabilities = p.Job.AmbientCapabilities
	if p.Job.NoNewPrivileges {
		req.NoNewPrivileges = true
	}
	if p.Job.SELinuxLabel != "" {
		req.SELinuxLabel = p.Job.SELinuxLabel
	}
	return nil
}

// Check refuses, without changing it, a request beyond what
// the policy allows its caller, before anything is pulled or mounted. A
// trusted caller is refused only images from registries outside
// [registry] allowed.
func (p *Policy) Check(req *spec.Request, c *Caller) error {
	if err := p.CheckImage(req.Image); err != nil {
		return err
	}
	if p.Trusted(c) {
		return nil
	}
	caps, err := p.Capabilities()
	if err != nil {
		return err
	}
	for _, add := range req.CapAdd {
		n, err := spec.NormalizeCapability(add)
		if err != nil {
			return err
		}
		if n == "ALL" || !slices.Contains(caps, n) {
			return p.refuse("--cap-add "+add, "[job] capabilities", "jobs may have only "+strings.Join(caps, ", "))
		}
	}
	if req.SeccompProfile != "" {
		return p.refuse("--security-opt seccomp="+truncate(req.SeccompProfile), "the trust model (only root may change the seccomp profile)", "drop the option")
	}
	for _, d := range req.Devices {
		if err := p.CheckDevice(d.HostPath, c); err != nil {
			return err
		}
	}
	if req.CgroupParent != "" {
		return p.refuse("cgroup parent "+req.CgroupParent, "[callers] trusted", "only trusted callers may place containers in another cgroup")
	}
	for _, r := range req.Rlimits {
		if err := p.checkRlimit(r, c); err != nil {
			return err
		}
	}
	if req.OOMScoreAdj != nil && *req.OOMScoreAdj < c.OOMScoreAdj {
		return p.refuse(fmt.Sprintf("--oom-score-adj %d below your own %d", *req.OOMScoreAdj, c.OOMScoreAdj), "the trust model (as without dockless, only privilege lowers an OOM score)", fmt.Sprintf("ask for %d or more", c.OOMScoreAdj))
	}
	return nil
}

// VolumeRules are the [volumes] rules for the paths a caller names to be
// bound into a container (volumes, and an LSF job's working directory and
// spool directory): the prefixes they must lie under and whether only
// directories may be bound. Trusted callers, root among them, are not
// bound by them. It is the one trust rule for user-named mount sources.
func (p *Policy) VolumeRules(c *Caller) (prefixes []string, dirsOnly bool) {
	if p.Trusted(c) {
		return nil, false
	}
	return p.Volumes.AllowedPrefixes, p.Volumes.DirectoriesOnly
}

// CheckDevice refuses a host device outside [job] devices to callers who
// are not trusted.
func (p *Policy) CheckDevice(hostPath string, c *Caller) error {
	if p.Trusted(c) || slices.Contains(p.Job.Devices, hostPath) {
		return nil
	}
	return p.refuse("--device "+hostPath, "[job] devices", "only the site's devices may be added ("+strings.Join(p.Job.Devices, ", ")+")")
}

// CheckImage refuses images from registries outside [registry] allowed.
func (p *Policy) CheckImage(ref string) error {
	if len(p.Registry.Allowed) == 0 {
		return nil
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("invalid reference format %q: %w", ref, err)
	}
	host := reference.Domain(named)
	if !slices.Contains(p.Registry.Allowed, host) {
		return p.refuse("image "+ref+" from registry "+host, "[registry] allowed", "use an image from "+strings.Join(p.Registry.Allowed, ", "))
	}
	return nil
}

// CheckUser refuses identities a caller may not take: root unless
// [job] allow_root, and for callers who are not trusted any uid, primary
// gid or supplementary group that is not their own.
func (p *Policy) CheckUser(u specs.User, c *Caller) error {
	if u.UID == 0 && !p.Job.AllowRoot && !c.IsRoot() {
		return p.refuse("running the container as root (uid 0)", "[job] allow_root", "jobs run as you; drop -u 0")
	}
	if p.Trusted(c) {
		return nil
	}
	if u.UID != c.UID {
		return p.refuse(fmt.Sprintf("running as uid %d", u.UID), "the trust model (containers run as their caller)", fmt.Sprintf("drop -u or use -u %d", c.UID))
	}
	mine := append([]uint32{c.GID}, c.Groups...)
	if !slices.Contains(mine, u.GID) {
		return p.refuse(fmt.Sprintf("primary group %d", u.GID), "the trust model (only your own groups)", "use one of your groups")
	}
	for _, g := range u.AdditionalGids {
		if !slices.Contains(mine, g) {
			return p.refuse(fmt.Sprintf("--group-add %d", g), "the trust model (only your own groups)", "add only groups you are a member of")
		}
	}
	return nil
}

// checkRlimit refuses a limit above what the caller has, unless the policy
// itself grants that limit.
func (p *Policy) checkRlimit(r specs.POSIXRlimit, c *Caller) error {
	for _, u := range p.Job.Ulimits {
		if granted, err := spec.ParseUlimit(u); err == nil && granted.Type == r.Type && r.Hard <= granted.Hard {
			return nil
		}
	}
	res, ok := spec.RlimitResources[r.Type]
	if !ok {
		return nil
	}
	cur, ok := c.Rlimits[res]
	if !ok {
		if err := unix.Getrlimit(res, &cur); err != nil {
			return err
		}
	}
	if r.Hard > cur.Max || r.Soft > r.Hard {
		return p.refuse(fmt.Sprintf("--ulimit %s above your hard limit %d", strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_")), cur.Max), "[job] ulimits", "ask for no more than your own limits")
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
