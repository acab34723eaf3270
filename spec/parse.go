package spec

import (
	"errors"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// The parsers below read one docker value each, the same for every front
// end (docker's flags, the LSF_DOCKER_* variables, the site policy). Their
// errors say what is wrong with the value; the front end names the flag or
// variable it came from.

// ParseMemory reads a memory size such as 4096m or 4g (docker's -m). A
// size past 8 EiB is refused (docker's parser wraps it to a negative
// number).
func ParseMemory(v string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err == nil && n < 0 {
		return 0, fmt.Errorf("invalid size: '%s': larger than 8 EiB", v)
	}
	return n, err
}

// ParseMemorySwap reads docker's --memory-swap: a size, or -1 for
// unlimited swap.
func ParseMemorySwap(v string) (int64, error) {
	if v == "-1" {
		return -1, nil
	}
	return ParseMemory(v)
}

// ParseShmSize reads docker's --shm-size: a size; 0 is docker's default
// (64 MiB).
func ParseShmSize(v string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err != nil || n < 0 {
		return 0, errors.New("want a size such as 64m or 20G (0: the default 64m)")
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

// ParseIPC reads docker's --ipc: private, shareable or host ("" is
// private). shareable is a private namespace that docker lets other
// containers join; dockless joins none, so it is private.
func ParseIPC(v string) (string, error) {
	if v != "" && v != "host" && v != "private" && v != "shareable" {
		return "", errors.New("not supported: use private, shareable or host")
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

// HostGateway is the address docker's special --add-host value
// host-gateway stands for: with the host network (dockless's default) the
// host is the container's own loopback.
const HostGateway = "127.0.0.1"

// ParseAddHost reads docker's --add-host HOST:IP (or HOST=IP; an IPv6
// address keeps its colons and may be bracketed). IP host-gateway is the
// host's address (HostGateway).
func ParseAddHost(v string) (HostEntry, error) {
	host, ip, ok := strings.Cut(v, ":")
	if !ok {
		if host, ip, ok = strings.Cut(v, "="); !ok {
			return HostEntry{}, errors.New("want HOST:IP")
		}
	}
	ip = strings.Trim(ip, "[]")
	if ip == "host-gateway" {
		ip = HostGateway
	}
	if host == "" || strings.ContainsAny(host, " \t") || net.ParseIP(ip) == nil {
		return HostEntry{}, errors.New("want HOST:IP with a valid IP address")
	}
	return HostEntry{Host: host, IP: ip}, nil
}

// ParseVolume reads docker's -v SRC:DST[:OPTIONS] as a user's bind, the
// destination normalised (Destination). SRC is an absolute host path, or
// one starting with "." that docker (since 23) takes relative to cwd, the
// caller's working directory; named and anonymous volumes are not
// supported. Options: ro and rw; z and Z (the SELinux relabels, which
// dockless never does to a user's files); docker's no-ops for binds
// (cached, delegated, consistent) and private propagation, which a user's
// bind always has; shared and slave propagation are refused, and nocopy,
// which is for volumes (docker refuses it for a bind too).
func ParseVolume(v, cwd string) (Bind, error) {
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
			case "rw", "z", "Z", "cached", "delegated", "consistent":
			case "nocopy":
				return Bind{}, errors.New("option \"nocopy\" is for volumes, and this is a bind (docker refuses it too)")
			default:
				if err := propagation(o); err != nil {
					return Bind{}, fmt.Errorf("option %q: %w", o, err)
				}
			}
		}
	}
	return userBind(b, cwd)
}

// propagation accepts docker's private propagation modes and refuses the
// others with the reason.
func propagation(mode string) error {
	switch mode {
	case "private", "rprivate":
		return nil
	case "shared", "rshared", "slave", "rslave":
		return errors.New("mount propagation is not supported: a user's bind is always private, so that nothing mounted in the container reaches the node and nothing the node mounts later reaches the container")
	}
	return errors.New("not supported (use ro, rw, z, Z, or docker's no-ops cached, delegated, consistent, private, rprivate)")
}

// ParseMount reads docker's --mount: type=bind,source=SRC,target=DST
// [,readonly][,bind-propagation=private|rprivate][,consistency=…] as a
// user's bind (SRC as -v's), or type=tmpfs,target=DST[,tmpfs-size=SIZE]
// [,tmpfs-mode=MODE][,readonly] as a tmpfs (the *Tmpfs result, nil for a
// bind).
func ParseMount(m, cwd string) (Bind, *Tmpfs, error) {
	b := Bind{User: true}
	var opts []string
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
					return Bind{}, nil, fmt.Errorf("readonly=%s is not a boolean", v)
				}
			}
			b.ReadOnly = ro
		case "bind-propagation":
			if err := propagation(v); err != nil {
				return Bind{}, nil, fmt.Errorf("bind-propagation=%s: %w", v, err)
			}
		case "tmpfs-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return Bind{}, nil, fmt.Errorf("tmpfs-size=%s: want a positive size", v)
			}
			opts = append(opts, "size="+strconv.FormatInt(n, 10))
		case "tmpfs-mode":
			mode, err := strconv.ParseUint(v, 8, 32)
			if err != nil || mode > 0o7777 {
				return Bind{}, nil, fmt.Errorf("tmpfs-mode=%s: want an octal mode", v)
			}
			opts = append(opts, fmt.Sprintf("mode=%o", mode))
		case "consistency":
		default:
			return Bind{}, nil, fmt.Errorf("option %q is not supported", k)
		}
	}
	switch typ {
	case "bind":
		if len(opts) > 0 {
			return Bind{}, nil, errors.New("tmpfs options need type=tmpfs")
		}
		if b.Source == "" || b.Destination == "" {
			return Bind{}, nil, errors.New("source and target are required")
		}
		b, err := userBind(b, cwd)
		return b, nil, err
	case "tmpfs":
		if b.Source != "" {
			return Bind{}, nil, errors.New("a tmpfs has no source")
		}
		if b.ReadOnly {
			opts = append(opts, "ro")
		}
		t, err := tmpfs(b.Destination, opts)
		return Bind{}, &t, err
	}
	return Bind{}, nil, errors.New("only type=bind and type=tmpfs are supported")
}

// ParseTmpfs reads docker's --tmpfs DST[:OPTIONS], OPTIONS the tmpfs mount
// options docker passes on (size=, mode=, uid=, gid=, nr_inodes=, ro, rw,
// exec, noexec, suid, nosuid, dev, nodev and the atime and sync flags).
func ParseTmpfs(v string) (Tmpfs, error) {
	dst, options, _ := strings.Cut(v, ":")
	var opts []string
	if options != "" {
		opts = strings.Split(options, ",")
	}
	return tmpfs(dst, opts)
}

// tmpfsFlags are the tmpfs options taken without a value, tmpfsKeys those
// taken with one.
var (
	tmpfsFlags = []string{"ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime",
		"relatime", "norelatime", "strictatime", "nostrictatime", "diratime", "nodiratime", "sync", "async", "dirsync"}
	tmpfsKeys = []string{"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"}
)

// tmpfs checks a tmpfs's destination and options.
func tmpfs(dst string, opts []string) (Tmpfs, error) {
	d, err := Destination(dst)
	if err != nil {
		return Tmpfs{}, err
	}
	for _, o := range opts {
		k, v, hasValue := strings.Cut(o, "=")
		ok := !hasValue && slices.Contains(tmpfsFlags, o)
		if hasValue && slices.Contains(tmpfsKeys, k) {
			ok = v != "" && !strings.ContainsAny(v, ", \t\n")
		}
		if !ok {
			return Tmpfs{}, fmt.Errorf("tmpfs option %q is not supported", o)
		}
	}
	return Tmpfs{Destination: d, Options: opts}, nil
}

// userBind checks a user's bind's source, relative to cwd when it starts
// with "." as docker's, and normalises its destination.
func userBind(b Bind, cwd string) (Bind, error) {
	if strings.HasPrefix(b.Source, ".") && filepath.IsAbs(cwd) {
		b.Source = filepath.Join(cwd, b.Source)
	}
	if !filepath.IsAbs(b.Source) {
		return Bind{}, fmt.Errorf("source %q: named volumes are not supported, give a host path (absolute, or relative starting with .)", b.Source)
	}
	dst, err := Destination(b.Destination)
	if err != nil {
		return Bind{}, err
	}
	b.Destination = dst
	return b, nil
}

// ParseCPUs reads docker's --cpus: a decimal number of CPUs, in billionths
// of a CPU (0: no limit).
func ParseCPUs(v string) (int64, error) {
	cpus, ok := new(big.Rat).SetString(v)
	if !ok {
		return 0, errors.New("want a number of CPUs such as 1.5")
	}
	nano := cpus.Mul(cpus, big.NewRat(1e9, 1))
	if !nano.IsInt() || !nano.Num().IsInt64() {
		return 0, errors.New("too precise: at most 9 decimals")
	}
	if nano.Sign() < 0 {
		return 0, errors.New("must not be negative")
	}
	return nano.Num().Int64(), nil
}

// ParseCpuset reads docker's --cpuset-cpus and --cpuset-mems: a list of
// numbers and ranges such as 0-3,8.
func ParseCpuset(v string) (string, error) {
	for _, part := range strings.Split(v, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return "", errors.New("want a list such as 0-3,8")
		}
		if isRange {
			b, err := strconv.ParseUint(hi, 10, 16)
			if err != nil || b < a {
				return "", errors.New("want a list such as 0-3,8 (ranges low-high)")
			}
		}
	}
	return v, nil
}

// ParseDNS reads docker's --dns: a name server's IP address.
func ParseDNS(v string) (string, error) {
	ip := net.ParseIP(v)
	if ip == nil {
		return "", errors.New("not an IP address")
	}
	return ip.String(), nil
}

// ParseDNSSearch reads docker's --dns-search: a domain name, or "." for
// no search domains.
func ParseDNSSearch(v string) (string, error) {
	d := strings.TrimSuffix(v, ".")
	if v == "." {
		return v, nil
	}
	if d == "" || len(d) > 255 || strings.HasPrefix(d, ".") || strings.Contains(d, "..") {
		return "", errors.New("not a domain name")
	}
	for _, label := range strings.Split(d, ".") {
		if strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.IndexFunc(label, func(r rune) bool { return !isAlnum(r) && r != '-' }) >= 0 {
			return "", errors.New("not a domain name")
		}
	}
	return v, nil
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// ParseDNSOption reads docker's --dns-option: one resolv.conf option
// (ndots:2, edns0, ...).
func ParseDNSOption(v string) (string, error) {
	if v == "" || strings.ContainsFunc(v, unicode.IsSpace) {
		return "", errors.New("want one resolv.conf option such as ndots:2")
	}
	return v, nil
}

// ParseLabel reads docker's --label KEY=VALUE (KEY alone: an empty value).
func ParseLabel(v string) (key, value string, err error) {
	key, value, _ = strings.Cut(v, "=")
	if strings.TrimSpace(key) == "" {
		return "", "", errors.New("empty name")
	}
	if strings.ContainsFunc(key, unicode.IsSpace) {
		return "", "", errors.New("the name contains white space")
	}
	return key, value, nil
}

// ParseSignal reads a signal as docker's --stop-signal and kill -s do: a
// name with or without SIG (KILL, SIGKILL) or a number.
func ParseSignal(v string) (unix.Signal, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n > 0 && n <= 64 {
			return unix.Signal(n), nil
		}
		return 0, errors.New("no such signal")
	}
	name := strings.ToUpper(v)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, errors.New("no such signal")
}

// ParseOOMScoreAdj checks docker's --oom-score-adj: -1000 to 1000.
func ParseOOMScoreAdj(n int) (int, error) {
	if n < -1000 || n > 1000 {
		return 0, errors.New("the range is -1000 to 1000")
	}
	return n, nil
}

// ParsePublish checks docker's -p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]
// (ports or ranges such as 8000-8010; an IPv6 address in brackets).
func ParsePublish(v string) error {
	rest, proto, hasProto := strings.Cut(v, "/")
	if hasProto && proto != "tcp" && proto != "udp" && proto != "sctp" {
		return errors.New("the protocol is tcp, udp or sctp")
	}
	var ip string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return errors.New("want [IP]:HOST_PORT:CONTAINER_PORT")
		}
		ip, rest = rest[1:end], rest[end+2:]
	}
	parts := strings.Split(rest, ":")
	if len(parts) > 3 || (ip != "" && len(parts) > 2) {
		return errors.New("want [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")
	}
	if len(parts) == 3 {
		ip, parts = parts[0], parts[1:]
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return errors.New("not an IP address: " + ip)
	}
	for i, p := range parts {
		if p == "" && i < len(parts)-1 {
			continue // no host port: docker picks one
		}
		if err := portRange(p); err != nil {
			return err
		}
	}
	return nil
}

// portRange checks a port or a range of ports.
func portRange(v string) error {
	lo, hi, isRange := strings.Cut(v, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err == nil && isRange {
		var b uint64
		if b, err = strconv.ParseUint(hi, 10, 16); err == nil && b < a {
			err = errors.New("backwards")
		}
	}
	if err != nil || a == 0 {
		return errors.New("invalid port " + v)
	}
	return nil
}
