package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps_SetuidBinaryLinksNoBuildKit: BuildKit is linked into
// dockless-build only, and NVIDIA's CDI generator into dockless-cdi only,
// never into the setuid dockless (every start of it would pay for them),
// nor containerd's client package (a daemon is spoken to through four of
// its services, images/daemon.go); and the module
// graph keeps BuildKit with the containerd it was released with
// (v0.34.2 with containerd v2.4.2). Both dockless and dockless-build
// start with their heap's first chunk in huge pages (runtime/hugeheap).
func TestDeps_SetuidBinaryLinksNoBuildKit(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/moby/buildkit") || pkg == "github.com/dockless/dockless/build/kit" ||
			strings.HasPrefix(pkg, "github.com/NVIDIA/") || pkg == "github.com/dockless/dockless/cdi/nvidia" ||
			pkg == "github.com/containerd/containerd/v2/client" {
			t.Errorf("the setuid dockless links %s", pkg)
		}
	}
	if !strings.Contains(string(out), "github.com/dockless/dockless/runtime/hugeheap\n") {
		t.Error("the setuid dockless does not link runtime/hugeheap")
	}
	out, err = exec.Command("go", "list", "-m", "github.com/moby/buildkit", "github.com/containerd/containerd/v2", "github.com/opencontainers/runc").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	if got, want := strings.Fields(string(out)), []string{"github.com/moby/buildkit", "v0.34.2", "github.com/containerd/containerd/v2", "v2.4.2", "github.com/opencontainers/runc", "v1.5.3"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("module versions %v, want %v (BuildKit and containerd move together)", got, want)
	}
	out, err = exec.Command("go", "list", "-deps", "../dockless-build").Output()
	if err != nil || !strings.Contains(string(out), "github.com/moby/buildkit/control") {
		t.Errorf("dockless-build links BuildKit's controller: %v", err)
	}
	if !strings.Contains(string(out), "github.com/dockless/dockless/runtime/hugeheap\n") {
		t.Error("dockless-build does not link runtime/hugeheap")
	}
	out, err = exec.Command("go", "list", "-deps", "../dockless-cdi").Output()
	if err != nil || !strings.Contains(string(out), "github.com/NVIDIA/nvidia-container-toolkit/pkg/nvcdi") {
		t.Errorf("dockless-cdi links NVIDIA's generator: %v", err)
	}
}
