package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSuid_LSFJobNamesAreNotTheUsers: the names of LSF job containers
// (lsf_<job>_<pid>) are predictable, and names are one per node, so a
// user who could take one would make another user's next job fail: the
// docker front end refuses them to users (root may), and the names'
// directory is root's alone, so nobody learns another's names by trying
// paths.
func TestSuid_LSFJobNamesAreNotTheUsers(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	e.mustRun("pull", "-q", busybox)
	r := e.runAs(alice, alice.Home, nil, "run", "-q", "--name", "lsf_4242_6674", busybox, "true")
	if r.code != 125 || !strings.Contains(r.stderr, `names beginning "lsf_" are the LSF job containers'`) {
		t.Errorf("alice runs --name lsf_4242_6674: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", "--name", "mine_lsf_1", busybox, "true"); r.code != 0 {
		t.Errorf("alice names her container: %s", r)
	}
	e.mustRun("run", "--rm", "-q", "--name", "lsf_4242_6674", busybox, "true")
	if fi, err := os.Stat(filepath.Join(e.state, "names")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the names' directory: %v %v, want 0700", fi.Mode(), err)
	}
}
