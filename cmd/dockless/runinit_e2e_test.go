package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSuid_JobContainersStartWithTheSmallInit: a user's job container's
// init is dockless-runinit (libexec), executed from its sealed copy once
// nsexec is done, not the whole dockless: a createContainer hook, which
// libcontainer's init runs in the container's namespaces, finds it as its
// parent's executable (its parent's pid as the node's /proc, still there
// before pivot_root, gives it). The container runs as before.
func TestSuid_JobContainersStartWithTheSmallInit(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "true")
	dir := openTempDir(t)
	hooksDir, log := filepath.Join(dir, "hooks.d"), filepath.Join(dir, "hook.log")
	if err := os.Mkdir(hooksDir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := writeFile(t, filepath.Join(dir, "parent-exe"), "#!/bin/sh\nwhile read -r k v; do [ \"$k\" = PPid: ] && ppid=$v; done < /proc/self/status\nreadlink /proc/$ppid/exe >> "+log+"\n", 0o755)
	writeFile(t, filepath.Join(hooksDir, "exe.json"), `{"version":"1.0.0","hook":{"path":"`+script+`"},"when":{"always":true},"stages":["createContainer"]}`, 0o644)
	appendPolicy(t, fmt.Sprintf("[hooks]\ndirs = [%q]\n", hooksDir))
	data := filepath.Join(j.storage, alice.Name)
	r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-v", data+":/data", busybox, "sh", "-c", "id -u; grep ^Seccomp: /proc/self/status; ls /proc/self/fd")
	if r.code != 0 || r.stdout != fmt.Sprintf("%d\nSeccomp:\t2\n0\n1\n2\n3\n", alice.UID) {
		t.Fatalf("a job container started by the small init: %s", r)
	}
	b, err := os.ReadFile(log)
	if err != nil || strings.TrimSpace(string(b)) != "/dockless-runinit" {
		t.Errorf("the container's init was %q (%v), want dockless-runinit from its sealed copy", b, err)
	}
}
