package images

import (
	"strings"
	"testing"
)

// TestLookHelper_NamesNotPaths: the helper named in the caller's docker
// config is looked up, as root, only in the system's directories: a name
// that climbs out of them is refused before anything is looked at.
func TestLookHelper_NamesNotPaths(t *testing.T) {
	for _, prog := range []string{"docker-credential-../../../../home/u/x", "docker-credential-/etc/shadow", "docker-credential-a/b"} {
		if _, err := lookHelper(prog); err == nil || !strings.Contains(err.Error(), "is named, not a path") {
			t.Errorf("%s: %v", prog, err)
		}
	}
	if _, err := lookHelper("docker-credential-dockless-test-absent"); err == nil || !strings.Contains(err.Error(), "not found in") {
		t.Errorf("a name that is not installed: %v", err)
	}
	if p, err := lookHelper("sh"); err != nil || !strings.HasSuffix(p, "/sh") {
		t.Errorf("a helper installed in the system's directories is found: %q %v", p, err)
	}
}
