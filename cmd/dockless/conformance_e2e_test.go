package main

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// conformanceRetries is how many more times a program dockless-runc did
// worse in is run again (both runtimes): several programs of the suite
// race a process that exits at once against a later kill, and either
// runtime can lose such a race in one run.
const conformanceRetries = 2

// TestConformance_NoWorseThanRunc runs the whole OCI validation suite
// (about three minutes; `make conformance` writes the same table to
// docs/CONFORMANCE.md) against dockless-runc and the runc built from the
// module dockless embeds: in no program may dockless-runc pass fewer tests
// or fail more than runc.
func TestConformance_NoWorseThanRunc(t *testing.T) {
	newEnv(t)
	referenceRunc(t)
	rows, out := conformance(t)
	if len(rows) < 50 {
		t.Fatalf("want the whole suite (58 programs), got %d:\n%s", len(rows), out)
	}
	t.Logf("\n%s", out)
	worse := worsePrograms(rows)
	for try := 0; try < conformanceRetries && len(worse) > 0; try++ {
		names := make([]string, 0, len(worse))
		for name := range worse {
			names = append(names, name)
		}
		t.Logf("run again (a race either runtime can lose): %v", names)
		again, out := conformance(t, names...)
		t.Logf("\n%s", out)
		for name := range worse {
			if r, ok := again[name]; ok && !r.worse() {
				delete(worse, name)
			}
		}
	}
	for name, r := range worse {
		t.Errorf("%s: dockless-runc %s, runc %s", name, r.dockless, r.runc)
	}
}

// conformanceRow is one program's ok / not ok / skip for each runtime.
type conformanceRow struct{ dockless, runc tapCount }

func (r conformanceRow) worse() bool {
	return r.dockless.fail > r.runc.fail || r.dockless.ok < r.runc.ok
}

// conformance runs hack/conformance.sh on the programs (all if none) and
// returns its rows by program and its report.
func conformance(t *testing.T, programs ...string) (map[string]conformanceRow, string) {
	t.Helper()
	out, err := exec.Command("../../hack/conformance.sh", append([]string{binary}, programs...)...).Output()
	if err != nil {
		t.Fatalf("conformance run: %v\n%s", err, out)
	}
	rows := map[string]conformanceRow{}
	for _, line := range strings.Split(string(out), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || strings.Contains(line, "---") || strings.Contains(line, "program") || strings.Contains(line, "total") {
			continue
		}
		rows[strings.TrimSpace(cells[1])] = conformanceRow{parseCell(cells[2]), parseCell(cells[3])}
	}
	return rows, string(out)
}

// worsePrograms are the rows in which dockless-runc did worse than runc.
func worsePrograms(rows map[string]conformanceRow) map[string]conformanceRow {
	worse := map[string]conformanceRow{}
	for name, r := range rows {
		if r.worse() {
			worse[name] = r
		}
	}
	return worse
}

// tapCount is a table cell: "ok / not ok / skip".
type tapCount struct{ ok, fail, skip int }

func (c tapCount) String() string {
	return strconv.Itoa(c.ok) + " / " + strconv.Itoa(c.fail) + " / " + strconv.Itoa(c.skip)
}

func parseCell(cell string) tapCount {
	var c tapCount
	f := strings.Split(cell, "/")
	if len(f) == 3 {
		c.ok, _ = strconv.Atoi(strings.TrimSpace(f[0]))
		c.fail, _ = strconv.Atoi(strings.TrimSpace(f[1]))
		c.skip, _ = strconv.Atoi(strings.TrimSpace(f[2]))
	}
	return c
}

// runcBatsCI are the files of runc's integration suite CI runs (those of
// the differences issue 18 found; a few minutes): `make conformance` runs
// them all.
var runcBatsCI = []string{"update", "exec", "debug", "capabilities", "run", "pidfd-socket", "mounts_sshfs", "seccomp", "list",
	"help", "delete", "create", "cpu_affinity", "version", "tty", "start_hello", "start_detached", "scheduler", "no_pivot", "kill", "ioprio"}

// TestRuncBats_NoWorseThanRunc runs part of runc's own integration suite
// (runcBatsCI) against dockless-runc and every test it fails against the
// runc built from the module dockless embeds (go run ./hack/runcbats): no
// test runc passes here may fail with dockless-runc. It needs bats, jq,
// gawk and script(1) (make test installs them) and the reference runc,
// which hack/runc-bats.sh builds from the Go module cache once.
func TestRuncBats_NoWorseThanRunc(t *testing.T) {
	if testing.Short() {
		t.Skip("runc's integration suite runs real containers")
	}
	for _, tool := range []string{"bats", "jq", "gawk", "script", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("runc's integration suite needs %s (make test installs bats, jq and gawk): %v", tool, err)
		}
	}
	referenceRunc(t)
	cmd := exec.Command("go", append([]string{"run", "../../hack/runcbats", binary}, runcBatsCI...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("\n%s", out)
	if err != nil {
		t.Errorf("go run ./hack/runcbats: %v\n%s", err, stderr.String())
	}
	if p := findCgroup("runc-cgroups-integration-test"); p != "" {
		t.Errorf("the suite left a cgroup behind: %s", p)
	}
}

// referenceRunc builds, once, the runc of the module dockless embeds and
// runc's integration suite with its images (hack/runc-bats.sh prepare),
// and skips the test, saying why, where they cannot be built (no Go module
// proxy, say).
func referenceRunc(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("../../hack/runc-bats.sh", "prepare").CombinedOutput(); err != nil {
		t.Skipf("the reference runc and runc's suite cannot be built here (hack/runc-bats.sh prepare): %v\n%s", err, out)
	}
}
