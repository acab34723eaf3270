package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
)

// environment merges --env-file files (in order, read with the caller's
// rights) and then -e entries; a bare KEY takes its value from the
// caller's environment, as docker does.
func environment(caller *policy.Caller, files, env []string) ([]string, error) {
	var out []string
	for _, f := range files {
		vars, err := readEnvFile(caller, f, caller.LookupEnv)
		if err != nil {
			return nil, err
		}
		out = append(out, vars...)
	}
	for _, e := range env {
		key, _, ok := strings.Cut(e, "=")
		if key == "" || strings.ContainsAny(key, " \t\n") {
			return nil, usagef("invalid -e %q: want KEY=VALUE or KEY", e)
		}
		if !ok {
			v, set := caller.LookupEnv(key)
			if !set {
				continue
			}
			e = key + "=" + v
		}
		out = append(out, e)
	}
	return out, nil
}

// binds parses -v SRC:DST[:OPTS] and --mount type=bind,... into the
// user's bind mounts, each destination normalised once (docker's rules; the
// same destination twice is refused, as docker does). Sources must be
// absolute host paths; named volumes are not supported. openSources checks
// and opens them.
func binds(volumes, mounts []string) ([]spec.Bind, error) {
	var out []spec.Bind
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, usagef("invalid -v %q: want SRC:DST[:OPTIONS]", v)
		}
		b := spec.Bind{Source: parts[0], Destination: parts[1], User: true}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					b.ReadOnly = true
				case "rw", "z", "Z":
				default:
					return nil, usagef("invalid -v %q: option %q is not supported (use ro, rw, z or Z)", v, o)
				}
			}
		}
		out = append(out, b)
	}
	for _, m := range mounts {
		b, err := parseMount(m)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	seen := map[string]bool{}
	for i, b := range out {
		if !filepath.IsAbs(b.Source) {
			return nil, usagef("invalid volume source %q: named volumes are not supported, give an absolute host path", b.Source)
		}
		dst, err := spec.Destination(b.Destination)
		if err != nil {
			return nil, usageError{err}
		}
		if seen[dst] {
			return nil, usagef("Duplicate mount point: %s", dst)
		}
		seen[dst] = true
		out[i].Destination = dst
	}
	return out, nil
}

// readEnvFile reads a docker env file with the caller's rights.
func readEnvFile(caller *policy.Caller, path string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := policy.OpenFile(caller, "--env-file", path)
	if err != nil {
		return nil, usageError{err}
	}
	defer f.Close()
	vars, err := spec.ParseEnvFile(f, lookup)
	if err != nil {
		return nil, usagef("--env-file %s: %w", path, err)
	}
	return vars, nil
}

// openSources checks every source of the user's binds with the caller's
// rights (and, for callers who are not trusted, the [volumes] rules) and
// keeps the opened handle in the bind. On error every handle opened so far
// is closed; otherwise closeBinds closes them.
func openSources(n *node, mounts []spec.Bind, what string) error {
	var prefixes []string
	dirsOnly := false
	if !n.policy.Trusted(n.caller) {
		prefixes, dirsOnly = n.policy.Volumes.AllowedPrefixes, n.policy.Volumes.DirectoriesOnly
	}
	for i := range mounts {
		src, err := policy.OpenSource(n.caller, what, mounts[i].Source, prefixes, dirsOnly)
		if err != nil {
			closeBinds(mounts)
			return usageError{err}
		}
		mounts[i].Checked = src.File
	}
	return nil
}

// closeBinds closes the checked sources of binds.
func closeBinds(binds []spec.Bind) {
	for i := range binds {
		if binds[i].Checked != nil {
			binds[i].Checked.Close()
			binds[i].Checked = nil
		}
	}
}

func parseMount(m string) (spec.Bind, error) {
	var b spec.Bind
	typ := ""
	for _, field := range strings.Split(m, ",") {
		k, v, hasValue := strings.Cut(field, "=")
		switch strings.ToLower(k) {
		case "type":
			typ = v
		case "source", "src":
			b.Source = v
		case "target", "destination", "dst":
			b.Destination = v
		case "readonly", "ro":
			ro := true
			if hasValue {
				var err error
				if ro, err = strconv.ParseBool(v); err != nil {
					return b, usagef("invalid --mount %q: readonly=%s is not a boolean", m, v)
				}
			}
			b.ReadOnly = ro
		case "consistency":
		default:
			return b, usagef("invalid --mount %q: option %q is not supported", m, k)
		}
	}
	if typ != "bind" {
		return b, usagef("invalid --mount %q: only type=bind is supported", m)
	}
	b.User = true
	if b.Source == "" || b.Destination == "" {
		return b, usagef("invalid --mount %q: source and target are required", m)
	}
	return b, nil
}

// securityOptions applies docker's --security-opt values; a seccomp
// profile file is read with the caller's rights.
func securityOptions(caller *policy.Caller, req *spec.Request, opts []string) error {
	var label []string
	for _, o := range opts {
		k, v, hasValue := strings.Cut(o, "=")
		if !hasValue {
			k, v, hasValue = strings.Cut(o, ":")
		}
		switch k {
		case "no-new-privileges":
			on := true
			if hasValue {
				var err error
				if on, err = strconv.ParseBool(v); err != nil {
					return usagef("invalid --security-opt %q: want no-new-privileges[=true|false]", o)
				}
			}
			req.NoNewPrivileges = on
		case "label":
			if v == "disable" {
				label = nil
				continue
			}
			label = append(label, v)
		case "seccomp":
			switch v {
			case "unconfined":
				req.SeccompProfile = v
			case "":
				return usagef("invalid --security-opt %q: want seccomp=unconfined or seccomp=PROFILE.json", o)
			default:
				body, err := policy.ReadFile(caller, "--security-opt seccomp", v)
				if err != nil {
					return usageError{err}
				}
				req.SeccompProfile = string(body)
			}
		default:
			return usagef("--security-opt %q is not supported: use label=..., no-new-privileges or seccomp=...", o)
		}
	}
	if len(label) > 0 {
		l, err := spec.SELinuxLabel(label)
		if err != nil {
			return usageError{err}
		}
		req.SELinuxLabel = l
		req.SELinuxEnabled = selinuxEnabled()
	}
	return nil
}

// sizeOrUnlimited parses a memory size such as 64m, or -1 for unlimited.
func sizeOrUnlimited(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	return units.RAMInBytes(s)
}

// resources parses the memory, swap, CPU and shm sizes.
func resources(req *spec.Request, memory, swap string, shares int64, shm string) error {
	var err error
	if memory != "" {
		if req.Memory, err = units.RAMInBytes(memory); err != nil {
			return usagef("invalid -m %q: %w", memory, err)
		}
	}
	if swap != "" {
		if req.MemorySwap, err = sizeOrUnlimited(swap); err != nil {
			return usagef("invalid --memory-swap %q: %w", swap, err)
		}
	}
	if shares < 0 {
		return usagef("invalid --cpu-shares %d: must not be negative", shares)
	}
	req.CPUShares = uint64(shares)
	if shm != "" {
		if req.ShmSize, err = units.RAMInBytes(shm); err != nil || req.ShmSize <= 0 {
			return usagef("invalid --shm-size %q: want a positive size such as 64m or 20G", shm)
		}
	}
	return nil
}

// ulimits parses --ulimit NAME=SOFT[:HARD] (-1 is unlimited).
func ulimits(in []string) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, u := range in {
		r, err := spec.ParseUlimit(u)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, r)
	}
	return out, nil
}

// devices parses --device values; devices outside the policy are refused
// before the node is even looked at.
func devices(n *node, in []string) ([]spec.Device, error) {
	var out []spec.Device
	for _, d := range in {
		host, _, _ := strings.Cut(d, ":")
		if err := n.policy.CheckDevice(host, n.caller); err != nil {
			return nil, err
		}
		dev, err := spec.ParseDevice(d)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, dev)
	}
	return out, nil
}

// addHosts parses --add-host HOST:IP (IPv6 addresses keep their colons).
func addHosts(in []string) ([]spec.HostEntry, error) {
	var out []spec.HostEntry
	for _, h := range in {
		host, ip, ok := strings.Cut(h, ":")
		if !ok {
			if host, ip, ok = strings.Cut(h, "="); !ok {
				return nil, usagef("invalid --add-host %q: want HOST:IP", h)
			}
		}
		if host == "" || strings.ContainsAny(host, " \t") || net.ParseIP(strings.Trim(ip, "[]")) == nil {
			return nil, usagef("invalid --add-host %q: want HOST:IP with a valid IP address", h)
		}
		out = append(out, spec.HostEntry{Host: host, IP: strings.Trim(ip, "[]")})
	}
	return out, nil
}

func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

func selinuxEnabled() bool {
	return selinux.GetEnabled()
}
