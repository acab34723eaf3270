package policy

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
)

// BuildLimits are [build]'s bounds, parsed.
type BuildLimits struct {
	MaxContextSize int64 // 0: no bound
	LockTimeout    time.Duration
}

// BuildLimits parses [build] max_context_size and lock_timeout, and
// checks that runtime and the id files are absolute paths.
func (p *Policy) BuildLimits() (BuildLimits, error) {
	var l BuildLimits
	b := p.Build
	if b.MaxContextSize != "" {
		n, err := units.RAMInBytes(b.MaxContextSize)
		if err != nil || n < 0 {
			return l, fmt.Errorf("policy %s: [build] max_context_size %q: want a size such as 10G", p.Source(), b.MaxContextSize)
		}
		l.MaxContextSize = n
	}
	d, err := time.ParseDuration(b.LockTimeout)
	if err != nil || d <= 0 {
		return l, fmt.Errorf("policy %s: [build] lock_timeout %q: want a duration such as 10m", p.Source(), b.LockTimeout)
	}
	l.LockTimeout = d
	for _, kv := range [][2]string{{"runtime", b.Runtime}, {"subuid_file", b.SubuidFile}, {"subgid_file", b.SubgidFile}} {
		if !filepath.IsAbs(kv[1]) {
			return l, fmt.Errorf("policy %s: [build] %s %q: want an absolute path", p.Source(), kv[0], kv[1])
		}
	}
	return l, nil
}

// CheckBuild refuses a build the policy does not allow: [build] enabled,
// and RUN's network among [build] network.
func (p *Policy) CheckBuild(network string) error {
	if !p.Build.Enabled {
		return p.refuse("dockless build", "[build] enabled", "ask the node's admin; build elsewhere and pull the image")
	}
	if !slices.Contains(p.Build.Network, network) {
		return p.refuse("build network "+network, "[build] network", "use --network "+strings.Join(p.Build.Network, " or "))
	}
	return nil
}

// CheckContextURL refuses a build context fetched from host (a git or
// tarball URL) that the policy keeps builds from: the fetch is the build
// reaching the network, so [build] network must list host, and host (with
// or without its port) must be among [build] allowed_context_hosts where
// that is set.
func (p *Policy) CheckContextURL(context, host string) error {
	if !slices.Contains(p.Build.Network, "host") {
		return p.refuse("the context URL "+context+" (builds here do not reach the network)", "[build] network", "build from a directory or a tar on stdin")
	}
	allowed := p.Build.AllowedContextHosts
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		name = host
	}
	if len(allowed) > 0 && !slices.Contains(allowed, host) && !slices.Contains(allowed, name) {
		return p.refuse("the context URL "+context+" from host "+host, "[build] allowed_context_hosts", "fetch from "+strings.Join(allowed, ", ")+", or clone it yourself and build the directory")
	}
	return nil
}

// CheckPush refuses a push to a registry the policy does not allow:
// [build] allowed_registries, or where it is empty [registry] allowed.
func (p *Policy) CheckPush(ref string) error {
	allowed, rule := p.Build.AllowedRegistries, "[build] allowed_registries"
	if len(allowed) == 0 {
		allowed, rule = p.Registry.Allowed, "[registry] allowed"
	}
	if len(allowed) == 0 {
		return nil
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("invalid reference format %q: %w", ref, err)
	}
	if host := reference.Domain(named); !slices.Contains(allowed, host) {
		return p.refuse("pushing "+ref+" to registry "+host, rule, "push to "+strings.Join(allowed, ", "))
	}
	return nil
}
