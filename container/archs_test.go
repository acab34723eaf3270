package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/runtime/deadarch"
	"github.com/dockless/dockless/spec"
)

// TestDeadArchs_AskedOncePerBoot: the kernel's answer is kept in the
// node's state for its boot, and a record of this boot is used as it
// stands; one of another boot is asked again and replaced.
func TestDeadArchs_AskedOncePerBoot(t *testing.T) {
	if images.BootID() == "" {
		t.Skip("no boot id here")
	}
	n := &Node{State: t.TempDir(), Log: logrus.New()}
	path := filepath.Join(n.State, "kernel-archs")
	read := func() kernelArchs {
		t.Helper()
		var rec kernelArchs
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	want := kernelArchs{Boot: images.BootID(), NoX32: !deadarch.KernelTakesX32(), NoIA32: !deadarch.KernelRunsIA32()}
	h := n.deadArchs(spec.Host{CPUs: 2})
	if h.NoX32 != want.NoX32 || h.NoIA32 != want.NoIA32 || h.CPUs != 2 {
		t.Fatalf("host %+v, want the kernel's answer %+v and the rest kept", h, want)
	}
	if got := read(); got != want {
		t.Fatalf("record %+v, want %+v", got, want)
	}
	// This boot's record is the answer, as it stands.
	flipped := kernelArchs{Boot: want.Boot, NoX32: !want.NoX32, NoIA32: !want.NoIA32}
	b, _ := json.Marshal(flipped)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if h := n.deadArchs(spec.Host{}); h.NoX32 != flipped.NoX32 || h.NoIA32 != flipped.NoIA32 {
		t.Errorf("with this boot's record: %+v, want the record's %+v", h, flipped)
	}
	// Another boot's is asked again and replaced.
	flipped.Boot = "another-boot"
	b, _ = json.Marshal(flipped)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if h := n.deadArchs(spec.Host{}); h.NoX32 != want.NoX32 || h.NoIA32 != want.NoIA32 {
		t.Errorf("with another boot's record: %+v, want the kernel's %+v", h, want)
	}
	if got := read(); got != want {
		t.Errorf("record %+v, want %+v", got, want)
	}
	if left, _ := filepath.Glob(filepath.Join(n.State, ".tmp-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
