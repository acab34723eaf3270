package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
)

// TestDestroy_AContainerKilledBeforeItsStateWasWritten: libcontainer
// writes its state only once the init runs, after it made the cgroups; a
// dockless killed in between leaves a state directory Load cannot read.
// Destroy (the reaper's) still kills what is in the cgroups and removes
// them and the directory.
func TestDestroy_AContainerKilledBeforeItsStateWasWritten(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes cgroups: needs root")
	}
	root, id := t.TempDir(), fmt.Sprintf("unstarted-%d", os.Getpid())
	cg := &cgroups.Cgroup{Path: "/dockless-test-" + id, Resources: &cgroups.Resources{}}
	m, err := manager.New(cg)
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "100")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait(); _ = m.Destroy() })
	if err := m.Apply(sleeper.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := saveCgroupPaths(root, id, cg); err != nil {
		t.Fatal(err)
	}
	if err := Destroy(root, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, id)); !os.IsNotExist(err) {
		t.Errorf("state directory left: %v", err)
	}
	for sub, p := range m.GetPaths() {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("cgroup left in %s: %s", sub, p)
		}
	}
	if err := sleeper.Wait(); err == nil {
		t.Errorf("the process in the cgroups was not killed")
	}
}
