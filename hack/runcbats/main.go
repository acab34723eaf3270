// Command runcbats runs runc's own integration suite (the bats files of the
// runc module dockless embeds, through hack/runc-bats.sh) against
// dockless-runc, and the reference runc built from the same module, and
// prints, as markdown, each file's ok / not ok / skipped for both and the
// tests runc passes here that dockless-runc fails.
//
//	go run ./hack/runcbats [-full] [-retries N] DOCKLESS_BINARY [FILE...]
//
// FILE is a bats file's name without .bats (all files if none). With -full
// runc runs every file too (make conformance's table); without it, runc
// runs only the tests dockless-runc fails (CI's check). A test dockless-runc
// fails is run again, on both runtimes, up to N times (default 2): some
// tests race a process against the runtime, and either runtime can lose
// such a race in one run. A test counts as passed by a runtime that passed
// it in any run. The exit status is 1 when a test runc passes fails with
// dockless-runc.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// outcome is how a test ended in one run.
type outcome int

const (
	notOK outcome = iota
	ok
	skipped
)

// result is one test of a TAP stream; detail is what bats printed of a
// failure.
type result struct {
	name    string
	outcome outcome
	detail  string
}

// tally is a file's counts for one runtime.
type tally struct{ ok, notOK, skipped int }

func (t tally) String() string { return fmt.Sprintf("%d / %d / %d", t.ok, t.notOK, t.skipped) }

func (t *tally) add(r result) {
	switch r.outcome {
	case ok:
		t.ok++
	case skipped:
		t.skipped++
	default:
		t.notOK++
	}
}

// test names a test: its file and its name.
type test struct{ file, name string }

func (t test) String() string { return t.file + ".bats: " + t.name }

// suite runs hack/runc-bats.sh.
type suite struct {
	script string // hack/runc-bats.sh
	work   string // its work directory
	init   string // dockless-init, beside the dockless binary
}

// run runs the tests of file whose names match filter ("" all) with
// runtime and returns their results in order.
func (s suite) run(runtime, file, filter string) ([]result, error) {
	// Under dockless-init, the subreaper of the suite's detached
	// containers: the tests wait for killed processes to be gone (kill -0),
	// and a node whose PID 1 reaps orphans late (this VM's does, every few
	// seconds) would leave them zombies for either runtime.
	cmd := exec.Command(s.init, "--", s.script, "run", runtime, file)
	cmd.Env = append(os.Environ(), "RUNC_BATS_FILTER="+filter)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s run %s %s: %w", s.script, runtime, file, err)
	}
	return parseTAP(string(out)), nil
}

var tapLine = regexp.MustCompile(`^(ok|not ok) [0-9]+ (.*?)( # skip.*)?$`)

// parseTAP reads bats's TAP: "ok N name", "ok N name # skip (why)",
// "not ok N name".
func parseTAP(out string) []result {
	var rs []result
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := tapLine.FindStringSubmatch(sc.Text())
		switch {
		case m == nil && len(rs) > 0 && rs[len(rs)-1].outcome == notOK:
			rs[len(rs)-1].detail += sc.Text() + "\n"
		case m == nil:
		case m[3] != "":
			rs = append(rs, result{name: m[2], outcome: skipped})
		case m[1] == "ok":
			rs = append(rs, result{name: m[2], outcome: ok})
		default:
			rs = append(rs, result{name: m[2], outcome: notOK})
		}
	}
	return rs
}

// passes runs test t with runtime up to tries times until it passes.
func (s suite) passes(runtime string, t test, tries int) (bool, error) {
	filter := "^" + regexp.QuoteMeta(t.name) + "$"
	for i := 0; i < tries; i++ {
		rs, err := s.run(runtime, t.file, filter)
		if err != nil {
			return false, err
		}
		for _, r := range rs {
			if r.name == t.name && r.outcome == ok {
				return true, nil
			}
		}
	}
	return false, nil
}

// byDesign are the files of features dockless-runc refuses on purpose:
// what runc passes there and dockless-runc fails is reported, as refused,
// but is no regression.
var byDesign = map[string]string{
	"checkpoint": "checkpoint and restore, which dockless-runc refuses (it does not drive CRIU; docs/COMPATIBILITY.md)",
}

// report is what a comparison found.
type report struct {
	files              []string
	dockless, runc     map[string]*tally
	full               bool
	regressions, flaky []test // runc passes, dockless-runc: never / in a later run
	refused            []test // regressions in byDesign files
	better             []test // dockless-runc passes, runc fails (full only)
	runcVersion        string
}

func main() {
	full := flag.Bool("full", false, "run runc on every file too, not only on the tests dockless-runc fails")
	retries := flag.Int("retries", 2, "times a test dockless-runc fails is run again on each runtime")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: go run ./hack/runcbats [-full] [-retries N] DOCKLESS_BINARY [FILE...]")
		os.Exit(2)
	}
	r, err := compare(flag.Arg(0), flag.Args()[1:], *full, *retries)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runcbats:", err)
		os.Exit(2)
	}
	r.print()
	if len(r.regressions) > 0 {
		os.Exit(1)
	}
}

// setup builds the suite's work directory (once) and links dockless-runc,
// under that name (the suite's help tests expect it), to the binary.
func setup(binary string) (suite, string, error) {
	_, self, _, _ := runtime.Caller(0)
	s := suite{script: filepath.Join(filepath.Dir(self), "..", "runc-bats.sh")}
	out, err := exec.Command(s.script, "prepare").Output()
	if err != nil {
		return s, "", fmt.Errorf("%s prepare: %w", s.script, err)
	}
	s.work = strings.TrimSpace(string(out))
	abs, err := filepath.Abs(binary)
	if err != nil {
		return s, "", err
	}
	s.init = filepath.Join(filepath.Dir(abs), "dockless-init")
	if _, err := os.Stat(s.init); err != nil {
		return s, "", fmt.Errorf("dockless-init beside %s (make build): %w", abs, err)
	}
	dir, err := os.MkdirTemp(s.work, "bin.")
	if err != nil {
		return s, "", err
	}
	link := filepath.Join(dir, "dockless-runc")
	return s, link, os.Symlink(abs, link)
}

// compare runs the files with dockless-runc (and with runc if full) and
// checks each test dockless-runc fails against runc.
func compare(binary string, files []string, full bool, retries int) (*report, error) {
	s, link, err := setup(binary)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Dir(link))
	if len(files) == 0 {
		paths, _ := filepath.Glob(filepath.Join(s.work, "runc", "tests", "integration", "*.bats"))
		for _, p := range paths {
			files = append(files, strings.TrimSuffix(filepath.Base(p), ".bats"))
		}
	}
	rep := &report{files: files, dockless: map[string]*tally{}, runc: map[string]*tally{}, full: full}
	if b, err := os.ReadFile(filepath.Join(s.work, "runc", "VERSION")); err == nil {
		rep.runcVersion = strings.TrimSpace(string(b))
	}
	for _, f := range files {
		if err := s.compareFile(rep, link, f, retries); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func (s suite) compareFile(rep *report, link, file string, retries int) error {
	rep.dockless[file], rep.runc[file] = &tally{}, &tally{}
	dl, err := s.run(link, file, "")
	if err != nil {
		return err
	}
	byName := map[string]outcome{}
	if rep.full {
		rc, err := s.run("runc", file, "")
		if err != nil {
			return err
		}
		for _, r := range rc {
			rep.runc[file].add(r)
			byName[r.name] = r.outcome
		}
	}
	for _, r := range dl {
		rep.dockless[file].add(r)
		t := test{file, r.name}
		if rep.full && r.outcome == ok && byName[r.name] == notOK {
			rep.better = append(rep.better, t)
		}
		if r.outcome != notOK {
			continue
		}
		runcPasses := rep.full && byName[r.name] == ok
		if !runcPasses {
			tries := retries + 1
			if rep.full {
				tries = retries
			}
			if runcPasses, err = s.passes("runc", t, tries); err != nil {
				return err
			}
		}
		if !runcPasses {
			continue
		}
		again, err := s.passes(link, t, retries)
		if err != nil {
			return err
		}
		switch {
		case again:
			rep.flaky = append(rep.flaky, t)
		case byDesign[file] != "":
			rep.refused = append(rep.refused, t)
		default:
			rep.regressions = append(rep.regressions, t)
		}
		fmt.Fprintf(os.Stderr, "dockless-runc failed %s (runc passes it; passed when run again: %v):\n%s\n", t, again, r.detail)
	}
	return nil
}

func (rep *report) print() {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Println("# runc's integration suite: dockless-runc and runc")
	fmt.Println()
	fmt.Printf("The bats files of tests/integration of runc %s (the runc module dockless embeds, from the Go module cache), "+
		"run by `hack/runc-bats.sh` under script(1) against dockless-runc and against the runc built from the same module; "+
		"the test images are built from this host (busybox-static, and its Debian packages in place of debian:buster-slim); "+
		"%s; generated by `go run ./hack/runcbats` on %s. Each cell is ok / not ok / skipped.\n\n",
		rep.runcVersion, strings.TrimSpace(string(kernel)), time.Now().UTC().Format("2006-01-02"))
	if rep.full {
		fmt.Println("| file | dockless-runc | runc |")
		fmt.Println("|---|---|---|")
	} else {
		fmt.Println("| file | dockless-runc |")
		fmt.Println("|---|---|")
	}
	var dl, rc tally
	for _, f := range rep.files {
		d, r := rep.dockless[f], rep.runc[f]
		dl.ok, dl.notOK, dl.skipped = dl.ok+d.ok, dl.notOK+d.notOK, dl.skipped+d.skipped
		rc.ok, rc.notOK, rc.skipped = rc.ok+r.ok, rc.notOK+r.notOK, rc.skipped+r.skipped
		if rep.full {
			fmt.Printf("| %s | %s | %s |\n", f, d, r)
		} else {
			fmt.Printf("| %s | %s |\n", f, d)
		}
	}
	if rep.full {
		fmt.Printf("| **total** | **%s** | **%s** |\n", dl, rc)
	} else {
		fmt.Printf("| **total** | **%s** |\n", dl)
	}
	fmt.Println()
	list("Tests runc passes here that dockless-runc fails", rep.regressions)
	list("Tests dockless-runc failed once and passed when run again (runc passes them)", rep.flaky)
	for file, why := range byDesign {
		if slices.Contains(rep.files, file) {
			list("Tests runc passes here of "+why, rep.refused)
		}
	}
	if rep.full {
		list("Tests dockless-runc passes that runc fails here", rep.better)
	}
}

func list(title string, ts []test) {
	if len(ts) == 0 {
		fmt.Printf("%s: none.\n\n", title)
		return
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	sort.Strings(names)
	fmt.Printf("%s:\n", title)
	for _, n := range names {
		fmt.Printf("- `%s`\n", n)
	}
	fmt.Println()
}
