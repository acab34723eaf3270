package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeCgroup2 lays out a job cgroup in a directory standing for the
// cgroup2 mount (regular files take the writes).
func fakeCgroup2(t *testing.T, controllers string) (root, job string) {
	t.Helper()
	root, job = t.TempDir(), "/lsf/job.23870"
	dir := filepath.Join(root, job)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, body := range map[string]string{"cgroup.controllers": controllers, "cgroup.subtree_control": "", "cgroup.procs": ""} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, job
}

func TestPlaceV2_MovesIntoALeafAndEnablesTheJobsControllers(t *testing.T) {
	root, job := fakeCgroup2(t, "cpuset cpu io memory pids\n")
	p, err := placeIn(root, job, 4242)
	if err != nil {
		t.Fatal(err)
	}
	procs, _ := os.ReadFile(filepath.Join(root, job, "dockless-4242", "cgroup.procs"))
	if string(procs) != "4242" && !strings.HasPrefix(string(procs), "4242") {
		t.Errorf("dockless moves into its leaf: %q", procs)
	}
	if strings.Join(p.enabled, " ") != "cpuset cpu io memory pids" {
		t.Errorf("the job's controllers are enabled for its children: %v", p.enabled)
	}
	if p.leaf != job+"/dockless-4242" {
		t.Errorf("leaf %s", p.leaf)
	}
}

func TestPlaceV2_KeepsControllersAlreadyEnabled(t *testing.T) {
	root, job := fakeCgroup2(t, "cpu memory pids")
	if err := os.WriteFile(filepath.Join(root, job, "cgroup.subtree_control"), []byte("memory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := placeIn(root, job, 1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.enabled, " ") != "cpu pids" || p.original != "memory" {
		t.Errorf("enabled %v, original %q", p.enabled, p.original)
	}
}

func TestOwnUnifiedCgroup_ReadsTheV2Line(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cgroup")
	if err := os.WriteFile(f, []byte("12:memory:/x\n0::/lsf/job.23870\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ownUnifiedCgroup(f); err != nil || got != "/lsf/job.23870" {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestTolerate_DropsWhatBindsIgnoreAndFIFONumbers(t *testing.T) {
	s := &specs.Spec{
		Mounts: []specs.Mount{
			{Destination: "/a", Type: "bind", Source: "/etc", Options: []string{"rbind", "rshared", "mode=755", "size=1k", "ro"}},
			{Destination: "/b", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755", "size=1k"}},
		},
		Linux: &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/fifo", Type: "p", Major: 8, Minor: 666}, {Path: "/dev/c", Type: "c", Major: 1, Minor: 3}}},
	}
	tolerate(s)
	if strings.Join(s.Mounts[0].Options, ",") != "rbind,rshared,ro" || strings.Join(s.Mounts[1].Options, ",") != "mode=755,size=1k" {
		t.Errorf("mount options: %v %v", s.Mounts[0].Options, s.Mounts[1].Options)
	}
	if d := s.Linux.Devices; d[0].Major != 0 || d[0].Minor != 0 || d[1].Minor != 3 {
		t.Errorf("devices: %+v", d)
	}
}
