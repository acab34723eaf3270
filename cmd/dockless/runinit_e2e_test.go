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
// before pivot_root, gives it). The container runs as before. One whose
// seccomp filter the loader cannot load gets dockless's own init.
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
		t.Fatalf("the container's init was %q (%v), want dockless-runinit from its sealed copy", b, err)
	}

	// A filter the loader cannot load (a compile failure recorded in the
	// cache) is libcontainer's to load, in the init: the small init has
	// no libseccomp, so that container's init is dockless's own.
	cache := filepath.Join(e.state, "seccomp")
	entries, err := os.ReadDir(cache)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no compiled filter in %s: %v", cache, err)
	}
	for _, en := range entries {
		writeFile(t, filepath.Join(cache, en.Name()), "!the test says so", 0o600)
	}
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	r = e.runAs(alice, alice.Home, nil, "run", "--rm", busybox, "sh", "-c", "id -u; grep ^Seccomp: /proc/self/status")
	if r.code != 0 || r.stdout != fmt.Sprintf("%d\nSeccomp:\t2\n", alice.UID) {
		t.Fatalf("a job container whose filter libcontainer loads: %s", r)
	}
	if b, err := os.ReadFile(log); err != nil || len(b) == 0 || strings.TrimSpace(string(b)) == "/dockless-runinit" {
		t.Errorf("the init of a container whose filter libcontainer loads was %q (%v), want dockless's own", b, err)
	}
}
