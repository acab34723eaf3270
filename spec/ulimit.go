package spec

import (
	"fmt"
	"strings"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ParseUlimit reads docker's --ulimit NAME=SOFT[:HARD] (-1 is unlimited).
func ParseUlimit(v string) (specs.POSIXRlimit, error) {
	ul, err := units.ParseUlimit(v)
	if err != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid --ulimit %q: %w", v, err)
	}
	if _, ok := RlimitResources["RLIMIT_"+strings.ToUpper(ul.Name)]; !ok {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid --ulimit %q: unknown limit %s", v, ul.Name)
	}
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(ul.Name), Soft: rlim(ul.Soft), Hard: rlim(ul.Hard)}, nil
}

// rlim maps docker's -1 to RLIM_INFINITY.
func rlim(v int64) uint64 {
	if v < 0 {
		return ^uint64(0)
	}
	return uint64(v)
}

// RlimitResources maps the spec's rlimit names to the kernel's resources.
var RlimitResources = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}
