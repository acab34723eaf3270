package runtime

import (
	"os"
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

func TestTakeLateRlimits_KeepsOnlyAddressSpaceLimitsForLater(t *testing.T) {
	as := configs.Rlimit{Type: unix.RLIMIT_AS, Soft: 1 << 30, Hard: 2 << 30}
	data := configs.Rlimit{Type: unix.RLIMIT_DATA, Soft: 32 << 20, Hard: 64 << 20}
	nofile := configs.Rlimit{Type: unix.RLIMIT_NOFILE, Soft: 3000, Hard: 4000}
	memlock := configs.Rlimit{Type: unix.RLIMIT_MEMLOCK, Soft: 8 << 20, Hard: 8 << 20}
	for _, tc := range []struct {
		name        string
		in          []configs.Rlimit
		early, late []configs.Rlimit
	}{
		{"none", nil, nil, nil},
		{"no address-space limit", []configs.Rlimit{nofile, memlock}, []configs.Rlimit{nofile, memlock}, nil},
		{"AS and DATA wait, the rest keep their order", []configs.Rlimit{as, nofile, data, memlock},
			[]configs.Rlimit{nofile, memlock}, []configs.Rlimit{as, data}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			early, late := takeLateRlimits(tc.in)
			if !slices.Equal(early, tc.early) || !slices.Equal(late, tc.late) {
				t.Errorf("got early %v late %v, want %v %v", early, late, tc.early, tc.late)
			}
		})
	}
}

func TestRealIDs_ReadsTheProcessRealUIDAndGID(t *testing.T) {
	uid, gid, err := realIDs(os.Getpid())
	if err != nil || uid != os.Getuid() || gid != os.Getgid() {
		t.Errorf("realIDs(self) = %d, %d, %v; want %d, %d", uid, gid, err, os.Getuid(), os.Getgid())
	}
	if _, _, err := realIDs(1 << 30); err == nil {
		t.Error("realIDs of a missing process succeeded")
	}
}

func TestRlimitName_NamesTheLimitAsTheSpecDoes(t *testing.T) {
	if got := rlimitName(unix.RLIMIT_AS); got != "RLIMIT_AS" {
		t.Errorf("rlimitName(RLIMIT_AS) = %q", got)
	}
}
