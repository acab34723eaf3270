package spec

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
)

// The parsers below read one docker value each, the same for every front
// end (docker's flags, the LSF_DOCKER_* variables, the site policy). Their
// errors say what is wrong with the value; the front end names the flag or
// variable it came from.

// ParseMemory reads a memory size such as 4096m or 4g (docker's -m).
func ParseMemory(v string) (int64, error) {
	return units.RAMInBytes(v)
}

// ParseMemorySwap reads docker's --memory-swap: a size, or -1 for
// unlimited swap.
func ParseMemorySwap(v string) (int64, error) {
	if v == "-1" {
		return -1, nil
	}
	return ParseMemory(v)
}

// ParseShmSize reads docker's --shm-size: a positive size.
func ParseShmSize(v string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size such as 64m or 20G")
	}
	return n, nil
}

// ParseNetwork reads docker's --network: host (dockless's default, as the
// site's) or none.
func ParseNetwork(v string) (string, error) {
	if v != "host" && v != "none" {
		return "", errors.New("not supported: use host (the default) or none; bridge and user-defined networks are not implemented")
	}
	return v, nil
}

// ParseIPC reads docker's --ipc: private or host ("" is private).
func ParseIPC(v string) (string, error) {
	if v != "" && v != "host" && v != "private" {
		return "", errors.New("not supported: use private or host")
	}
	return v, nil
}

// ParseWorkdir reads a working directory in the container: an absolute
// path, as docker requires.
func ParseWorkdir(v string) (string, error) {
	if !strings.HasPrefix(v, "/") {
		return "", errors.New("the working directory '" + v + "' is invalid, it needs to be an absolute path")
	}
	return v, nil
}

// ParseCgroupParent reads docker's --cgroup-parent: an absolute cgroup
// path (docker's relative form is below its own daemon's cgroup, which
// dockless has not).
func ParseCgroupParent(v string) (string, error) {
	if !strings.HasPrefix(v, "/") {
		return "", errors.New("must be an absolute cgroup path")
	}
	return v, nil
}

// ParseAddHost reads docker's --add-host HOST:IP (or HOST=IP; an IPv6
// address keeps its colons and may be bracketed).
func ParseAddHost(v string) (HostEntry, error) {
	host, ip, ok := strings.Cut(v, ":")
	if !ok {
		if host, ip, ok = strings.Cut(v, "="); !ok {
			return HostEntry{}, errors.New("want HOST:IP")
		}
	}
	ip = strings.Trim(ip, "[]")
	if host == "" || strings.ContainsAny(host, " \t") || net.ParseIP(ip) == nil {
		return HostEntry{}, errors.New("want HOST:IP with a valid IP address")
	}
	return HostEntry{Host: host, IP: ip}, nil
}

// ParseVolume reads docker's -v SRC:DST[:OPTIONS] as a user's bind, the
// destination normalised (Destination). Options are ro, rw, z and Z (the
// SELinux relabels, which dockless never does to a user's files). The
// source must be an absolute host path: named and anonymous volumes are
// not supported.
func ParseVolume(v string) (Bind, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Bind{}, errors.New("want SRC:DST[:OPTIONS]")
	}
	b := Bind{Source: parts[0], Destination: parts[1], User: true}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				b.ReadOnly = true
			case "rw", "z", "Z":
			default:
				return Bind{}, fmt.Errorf("option %q is not supported (use ro, rw, z or Z)", o)
			}
		}
	}
	return userBind(b)
}

// ParseMount reads docker's --mount type=bind,source=SRC,target=DST[,readonly]
// as a user's bind; only bind mounts are supported.
func ParseMount(m string) (Bind, error) {
	b := Bind{User: true}
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
					return Bind{}, fmt.Errorf("readonly=%s is not a boolean", v)
				}
			}
			b.ReadOnly = ro
		case "consistency":
		default:
			return Bind{}, fmt.Errorf("option %q is not supported", k)
		}
	}
	if typ != "bind" {
		return Bind{}, errors.New("only type=bind is supported")
	}
	if b.Source == "" || b.Destination == "" {
		return Bind{}, errors.New("source and target are required")
	}
	return userBind(b)
}

// userBind checks a user's bind's source and normalises its destination.
func userBind(b Bind) (Bind, error) {
	if !filepath.IsAbs(b.Source) {
		return Bind{}, fmt.Errorf("source %q: named volumes are not supported, give an absolute host path", b.Source)
	}
	dst, err := Destination(b.Destination)
	if err != nil {
		return Bind{}, err
	}
	b.Destination = dst
	return b, nil
}
