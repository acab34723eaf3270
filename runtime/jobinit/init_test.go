package jobinit

import (
	"os"
	"os/exec"
	"testing"
)

// TestSecureExec_ReadsTheAuxiliaryVector: an ordinary exec is not
// AT_SECURE, and the vector holds the key (the kernel always passes it):
// a missing key would read as an ordinary exec.
func TestSecureExec_ReadsTheAuxiliaryVector(t *testing.T) {
	if SecureExec() {
		t.Fatal("the test's own exec reads as AT_SECURE")
	}
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		t.Skip(err)
	}
	found := false
	for i := 0; i+16 <= len(b); i += 16 {
		if b[i] == atSecure && b[i+1] == 0 {
			found = true
		}
	}
	if !found {
		t.Fatal("AT_SECURE is not in /proc/self/auxv: the key is wrong")
	}
}

// TestInit_RefusedWithoutLibcontainer: the init run by hand, with none of
// libcontainer's descriptors, fails and does not hang.
func TestInit_RefusedWithoutLibcontainer(t *testing.T) {
	if os.Getenv("JOBINIT_TEST_CHILD") == "1" {
		Init()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInit_RefusedWithoutLibcontainer$")
	cmd.Env = append(os.Environ(), "JOBINIT_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the init ran without libcontainer's descriptors: %s", out)
	}
}
