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
// docs/CONFORMANCE.md) against dockless-runc and Debian's runc: in no
// program may dockless-runc pass fewer tests or fail more than runc.
func TestConformance_NoWorseThanRunc(t *testing.T) {
	newEnv(t)
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatalf("runc not installed (make test installs it): %v", err)
	}
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
