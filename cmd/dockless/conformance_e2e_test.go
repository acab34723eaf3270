package main

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// conformanceSubset is the part of the OCI validation suite CI runs (the
// whole suite is `make conformance`): the lifecycle, the default config,
// process settings, mounts and paths, hooks.
var conformanceSubset = []string{
	"default", "create", "start", "state", "kill", "delete", "hostname", "pidfile",
	"process", "process_capabilities", "process_rlimits", "process_user", "mounts", "root_readonly_true",
	"linux_masked_paths", "linux_readonly_paths", "linux_sysctl", "prestart", "poststart", "poststop", "hooks",
}

// TestConformance_NoWorseThanRunc runs that subset against dockless-runc
// and Debian's runc: no program may fail more often for dockless.
func TestConformance_NoWorseThanRunc(t *testing.T) {
	newEnv(t)
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatalf("runc not installed (make test installs it): %v", err)
	}
	out, err := exec.Command("../../hack/conformance.sh", append([]string{binary}, conformanceSubset...)...).Output()
	if err != nil {
		t.Fatalf("conformance run: %v\n%s", err, out)
	}
	rows := 0
	for _, line := range strings.Split(string(out), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || strings.Contains(line, "---") || strings.Contains(line, "program") || strings.Contains(line, "total") {
			continue
		}
		rows++
		var dOK, dFail, dSkip, rOK, rFail, rSkip int
		parseCell(cells[2], &dOK, &dFail, &dSkip)
		parseCell(cells[3], &rOK, &rFail, &rSkip)
		if dFail > rFail || dOK < rOK {
			t.Errorf("%s: dockless-runc %s, runc %s", strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3]))
		}
	}
	if rows != len(conformanceSubset) {
		t.Fatalf("want %d programs in the report, got %d:\n%s", len(conformanceSubset), rows, out)
	}
	t.Logf("\n%s", out)
}

func parseCell(cell string, ok, fail, skip *int) {
	f := strings.Split(cell, "/")
	if len(f) == 3 {
		*ok, _ = strconv.Atoi(strings.TrimSpace(f[0]))
		*fail, _ = strconv.Atoi(strings.TrimSpace(f[1]))
		*skip, _ = strconv.Atoi(strings.TrimSpace(f[2]))
	}
}
