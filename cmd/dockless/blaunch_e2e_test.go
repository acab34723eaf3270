package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dockless/dockless/hack/testimage"
)

// Route 1 of docs/LSF.md ("How tasks get in"): the blaunch wrapper in the
// image, before LSF's blaunch in the container's PATH, on the two
// simulated hosts of TestLSFTask_OpenMPIAcrossTwoHosts.

// whereami prints a line: its tag, then where it runs (host name, uid,
// PID 1's command line, memory cgroup, namespaces).
const whereami = `#!/bin/sh
printf '%s host=%s uid=%s init=%s cgroup=%s ns=' "$1" "$(hostname)" "$(id -u)" \
  "$(tr '\0' , </proc/1/cmdline)" "$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)"
echo "$(readlink /proc/self/ns/mnt),$(readlink /proc/self/ns/pid),$(readlink /proc/self/ns/ipc),$(readlink /proc/self/ns/uts)"
`

// waitfor waits (a minute at most) until file $1 exists.
const waitfor = `#!/bin/sh
i=0; while [ ! -e "$1" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; [ -e "$1" ]
`

// docBlaunchWrapper is the wrapper as docs/LSF.md gives it, with the
// test's dockless (the node's, first in the PATH of RES's tasks) for the
// installed one.
func docBlaunchWrapper(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/LSF.md")
	if err != nil {
		t.Fatal(err)
	}
	_, route, _ := strings.Cut(string(b), "1. **A `blaunch` wrapper inside the image**")
	_, block, _ := strings.Cut(route, "   ```sh\n")
	block, _, ok := strings.Cut(block, "   ```\n")
	if !ok {
		t.Fatal("docs/LSF.md: no sh block in route 1")
	}
	var lines []string
	for _, l := range strings.SplitAfter(block, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "   "))
	}
	script := strings.Join(lines, "")
	if strings.Count(script, "/usr/local/bin/dockless") != 1 {
		t.Fatalf("docs/LSF.md: the wrapper does not run /usr/local/bin/dockless once:\n%s", script)
	}
	return strings.Replace(script, "/usr/local/bin/dockless", "dockless", 1)
}

// blaunchImage pushes busybox with the documented wrapper as
// /usr/local/bin/blaunch, and whereami and waitfor.
func blaunchImage(t *testing.T) string {
	t.Helper()
	img, err := testimage.Busybox(testimage.Options{Extra: []testimage.File{
		{Name: "usr/local", Dir: true, Mode: 0o755}, {Name: "usr/local/bin", Dir: true, Mode: 0o755},
		{Name: "usr/local/bin/blaunch", Mode: 0o755, Body: []byte(docBlaunchWrapper(t))},
		{Name: "usr/local/bin/whereami", Mode: 0o755, Body: []byte(whereami)},
		{Name: "usr/local/bin/waitfor", Mode: 0o755, Body: []byte(waitfor)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push("test/blaunch-wrapper:1", img)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// The job script, in the job's container on mpihost-a, calls blaunch:
// the wrapper sends each command through LSF's blaunch (the test's) into
// "dockless lsf task" on its hosts, keeping LSF's options. A task on
// mpihost-b runs in that host's job container (the holder its PID 1, in
// its job cgroup, no namespace of mpihost-a's); a second task joins it
// while the first waits for it; a shell command line runs whole in the
// container; tasks on mpihost-a join the job script's container; a
// task's exit status comes back through blaunch; nothing is left.
func TestLSFTask_BlaunchWrapperRoute(t *testing.T) {
	ref := blaunchImage(t)
	u := &alice
	hosts, bins, spool := twoHosts(t, ref, u)
	hostsB := writeFile(t, filepath.Join(spool, testJobID+".hosts-b"), "mpihost-b\n", 0o644)
	script := `#!/bin/sh
whereami job
blaunch mpihost-b 'whereami first && touch /dev/shm/first && waitfor /dev/shm/second' &
blaunch -n mpihost-b -no-shell /bin/sh -c 'waitfor /dev/shm/first && whereami second && touch /dev/shm/second'
echo "second: $?"
wait $!; echo "first: $?"
blaunch -z "mpihost-a mpihost-b" 'whereami z; exit 3'; echo "z: $?"
blaunch -u ` + hostsB + ` -use-login-shell 'whereami u'; echo "u: $?"
blaunch 'whereami all'; echo "all: $?"
blaunch mpihost-b 'whereami last; exit 7'
`
	jobFile := writeFile(t, filepath.Join(spool, "1580953421."+testJobID), script, 0o700)
	if err := os.Chown(jobFile, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	r, launched := runTwoHostJob(t, hosts, bins, jobFile, false)
	t.Logf("the job: %s", r.stdout)
	if r.code != 7 {
		t.Errorf("the job's exit status: want the last remote task's, 7: %s", r)
	}
	task := []string{"-no-shell", "dockless", "lsf", "task", "--", "/bin/sh"}
	want := [][]string{
		append(append([]string{"mpihost-b"}, task...), "-c", "whereami first && touch /dev/shm/first && waitfor /dev/shm/second"),
		append(append([]string{"-n", "mpihost-b"}, task...), "-c", "waitfor /dev/shm/first && whereami second && touch /dev/shm/second"),
		append(append([]string{"-z", "mpihost-a mpihost-b"}, task...), "-c", "whereami z; exit 3"),
		append(append([]string{"-u", hostsB}, task...), "-lc", "whereami u"),
		append(task, "-c", "whereami all"),
		append(append([]string{"mpihost-b"}, task...), "-c", "whereami last; exit 7"),
	}
	quoted := func(l [][]string) []string {
		var q []string
		for _, a := range l {
			q = append(q, fmt.Sprintf("%q", a))
		}
		slices.Sort(q)
		return q
	}
	if got, w := quoted(launched), quoted(want); !slices.Equal(got, w) {
		t.Errorf("LSF's blaunch was asked for\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
	}
	checkWrapperTasks(t, r, hosts, strconv.Itoa(int(u.UID)))
}

// checkWrapperTasks checks the whereami lines and exit statuses of
// TestLSFTask_BlaunchWrapperRoute's job.
func checkWrapperTasks(t *testing.T, r result, hosts map[string]*parallelJob, uid string) {
	t.Helper()
	seen := map[string][]map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Fields(l)
		if len(f) != 6 || !strings.HasPrefix(f[1], "host=") {
			continue
		}
		m := map[string]string{}
		for _, w := range f[1:] {
			k, v, _ := strings.Cut(w, "=")
			m[k] = v
		}
		seen[f[0]] = append(seen[f[0]], m)
	}
	for tag, n := range map[string]int{"job": 1, "first": 1, "second": 1, "z": 2, "u": 1, "all": 4, "last": 1} {
		if len(seen[tag]) != n {
			t.Fatalf("want %d %q lines: %s", n, tag, r)
		}
	}
	for _, s := range []string{"second: 0", "first: 0", "z: 3", "u: 0", "all: 0"} {
		if !strings.Contains(r.stdout, "\n"+s+"\n") {
			t.Errorf("no %q: a remote task's exit status is blaunch's: %s", s, r)
		}
	}
	jobNS := strings.Split(seen["job"][0]["ns"], ",")
	onB := map[string][]string{}
	for tag, ms := range seen {
		for _, m := range ms {
			h := hosts[m["host"]]
			if h == nil || (tag != "job" && tag != "z" && tag != "all" && m["host"] != "mpihost-b") {
				t.Errorf("%s ran on %q: %v", tag, m["host"], m)
				continue
			}
			if m["uid"] != uid || m["init"] != "/sbin/docker-init,--hold," || !strings.HasPrefix(m["cgroup"], memoryCgroup(t, h)+"/") {
				t.Errorf("%s on %s: uid %s, PID 1 %q, cgroup %s: want %s, the holder, below %s", tag, m["host"], m["uid"], m["init"], m["cgroup"], uid, memoryCgroup(t, h))
			}
			ns := strings.Split(m["ns"], ",")
			if m["host"] == "mpihost-a" {
				if !slices.Equal(ns, jobNS) {
					t.Errorf("%s on mpihost-a is not in the job script's container: %v, the job's %v", tag, ns, jobNS)
				}
				continue
			}
			for i := range jobNS {
				if ns[i] == "" || ns[i] == jobNS[i] {
					t.Errorf("%s on mpihost-b shares a namespace with mpihost-a's container: %v, %v", tag, ns, jobNS)
				}
			}
			onB[tag] = append(onB[tag], m["ns"])
		}
	}
	if seen["job"][0]["host"] != "mpihost-a" || len(onB["z"]) != 1 {
		t.Errorf("the job on %s, -z's tasks on mpihost-b: %d: want mpihost-a, one of two", seen["job"][0]["host"], len(onB["z"]))
	}
	if len(onB["first"]) != 1 || len(onB["second"]) != 1 || onB["first"][0] != onB["second"][0] {
		t.Errorf("the second task on mpihost-b did not join the first's container: %v, %v", onB["first"], onB["second"])
	}
	if len(onB["all"]) != 2 || onB["all"][0] != onB["all"][1] {
		t.Errorf("the two slots of mpihost-b are not in one container: %v", onB["all"])
	}
}

// memoryCgroup is h's job cgroup in the memory hierarchy, as a process
// in it sees it in /proc/self/cgroup.
func memoryCgroup(t *testing.T, h *parallelJob) string {
	t.Helper()
	for _, d := range h.cgroups {
		if p, ok := strings.CutPrefix(d, "/sys/fs/cgroup/memory/"); ok {
			return "/" + p
		}
	}
	t.Fatalf("no memory job cgroup in %v", h.cgroups)
	return ""
}
