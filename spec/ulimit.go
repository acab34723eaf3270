package spec

import (
	"fmt"
	"strings"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ParseUlimit reads docker's --ulimit NAME=SOFT[:HARD] (-1 is unlimited).
func ParseUlimit(v string) (specs.POSIXRlimit, error) {
	ul, err := units.ParseUlimit(v)
	if err != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid --ulimit %q: %w", v, err)
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
