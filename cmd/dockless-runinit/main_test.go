package main

import (
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
