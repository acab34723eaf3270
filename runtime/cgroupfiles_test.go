package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dockless/dockless/spec"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
)

// TestCgroupFiles_DockerResourceFlags: the files docker's resource flags
// end in, on cgroup v1 and on v2, written by libcontainer's own cgroup
// managers from the spec dockless builds (on a fake cgroupfs: this node
// runs one version only; the end-to-end tests read the real v1 files from
// inside a container).
func TestCgroupFiles_DockerResourceFlags(t *testing.T) {
	cgroups.TestMode = true
	defer func() { cgroups.TestMode = false }()
	pids := int64(64)
	s, err := spec.New(
		spec.WithArgs([]string{"true"}),
		spec.WithRootfs("/rootfs", false),
		spec.WithMemory(64<<20, -1),
		spec.WithCPUShares(512),
		spec.WithCPULimit(1_500_000_000, 0, 0, 0), // --cpus 1.5
		spec.WithCpuset("0-1", "0"),
		spec.WithPidsLimit(&pids),
	)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := convert("files", s, false, true)
	if err != nil {
		t.Fatal(err)
	}
	res := cfg.Cgroups.Resources
	res.Devices, res.SkipDevices = nil, true // the device rules: eBPF on v2, not files

	v2 := t.TempDir()
	write(t, filepath.Join(v2, "cgroup.controllers"), "cpuset cpu io memory pids")
	m2, err := fs2.NewManager(cfg.Cgroups, v2)
	if err == nil {
		err = m2.Set(res)
	}
	if err != nil {
		t.Fatalf("cgroup v2: %v", err)
	}
	want := map[string]string{
		"cpu.max":     "150000 100000",
		"cpu.weight":  strconv.FormatUint(cgroups.ConvertCPUSharesToCgroupV2Value(512), 10),
		"cpuset.cpus": "0-1",
		"cpuset.mems": "0",
		"pids.max":    "64",
		"memory.max":  strconv.Itoa(64 << 20),
	}
	checkFiles(t, "v2", v2, want)

	v1 := t.TempDir()
	paths := map[string]string{}
	for _, c := range []string{"cpu", "cpuset", "pids", "memory"} {
		paths[c] = filepath.Join(v1, c)
		if err := os.Mkdir(paths[c], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m1, err := fs.NewManager(cfg.Cgroups, paths)
	if err == nil {
		err = m1.Set(res)
	}
	if err != nil {
		t.Fatalf("cgroup v1: %v", err)
	}
	checkFiles(t, "v1", v1, map[string]string{
		"cpu/cpu.cfs_quota_us":         "150000",
		"cpu/cpu.cfs_period_us":        "100000",
		"cpu/cpu.shares":               "512",
		"cpuset/cpuset.cpus":           "0-1",
		"cpuset/cpuset.mems":           "0",
		"pids/pids.max":                "64",
		"memory/memory.limit_in_bytes": strconv.Itoa(64 << 20),
	})
}

func checkFiles(t *testing.T, version, dir string, want map[string]string) {
	t.Helper()
	for f, v := range want {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.TrimSpace(string(got)) != v {
			t.Errorf("cgroup %s %s: got %q (%v), want %q", version, f, got, err, v)
		}
	}
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
