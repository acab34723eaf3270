package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRunInit_LinksNoNsexec: the small init links neither libcontainer's
// nsexec (package nsenter) nor dockless's constructor that runs it
// (runtime/initexec): executed once nsexec is done, with libcontainer's
// variables still set, it would run nsexec again and the container would
// not start.
func TestRunInit_LinksNoNsexec(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "seccomp", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/opencontainers/runc/libcontainer/nsenter" || p == "github.com/dockless/dockless/runtime/initexec" {
			t.Errorf("dockless-runinit links %s", p)
		}
	}
	if !strings.Contains(string(out), "github.com/opencontainers/runc/libcontainer\n") {
		t.Error("dockless-runinit does not link libcontainer: the test reads the wrong list")
	}
}

// TestRunInit_IsSmallAndStatic: of dockless it links package jobinit only
// (each package costs every container's start its initialisation), and it
// builds without cgo, as make build builds it: no dynamic loader, no libc,
// no libseccomp at every start.
func TestRunInit_IsSmallAndStatic(t *testing.T) {
	list := exec.Command("go", "list", "-deps", ".")
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list with CGO_ENABLED=0: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/dockless/dockless/") && p != "github.com/dockless/dockless/runtime/jobinit" && p != "github.com/dockless/dockless/cmd/dockless-runinit" {
			t.Errorf("dockless-runinit links %s", p)
		}
		if p == "runtime/cgo" {
			t.Error("dockless-runinit links runtime/cgo with CGO_ENABLED=0")
		}
	}
	bin := t.TempDir() + "/dockless-runinit"
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building without cgo: %v\n%s", err, out)
	}
	f, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(f), "/lib64/ld-linux") {
		t.Error("dockless-runinit names a dynamic loader: it is not static")
	}
}
