package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
)

// Open MPI across two simulated hosts of one parallel LSF job (the M9 of
// the parallel-job design), with Debian's Open MPI 4 (openmpi-bin,
// Makefile DEPS), as root and as a user through the setuid binary. A host
// is a dockless store and state of its own (for the user, a setuid build
// whose policy names them), a job cgroup, TMPDIR and host name of its own
// (a UTS namespace for each task's dockless); LSF's RES is the test,
// reached by blaunch in LSF_BINDIR over 127.0.0.1.

// mpiPackages are the Debian packages whose files make the MPI image.
var mpiPackages = []string{"openmpi-bin", "openmpi-common", "libopenmpi3", "libpmix2"}

// mpiImage builds and pushes an image: busybox plus the node's Open MPI
// (the files of mpiPackages, /usr/bin/mpirun and the shared libraries
// they load) and /usr/local/bin/ranks, testdata/mpi/ranks.c built with
// mpicc.
func mpiImage(t *testing.T) string {
	t.Helper()
	for _, c := range []string{"mpicc", "mpirun"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("no %s: the MPI test needs Debian's openmpi-bin and libopenmpi-dev (Makefile DEPS)", c)
		}
	}
	if _, err := exec.LookPath("orted"); err != nil {
		t.Skip("no orted: the MPI test drives Open MPI 4's ORTE (Debian 12's openmpi-bin); Open MPI 5 starts prted through PRRTE (docs/LSF.md, route 2), which it does not cover")
	}
	prog := filepath.Join(t.TempDir(), "ranks")
	if out, err := exec.Command("mpicc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", prog, "testdata/mpi/ranks.c").CombinedOutput(); err != nil {
		t.Fatalf("mpicc: %v: %s", err, out)
	}
	listed, err := exec.Command("dpkg", append([]string{"-L"}, mpiPackages...)...).Output()
	if err != nil {
		t.Fatalf("dpkg -L %v: %v", mpiPackages, err)
	}
	tree := &hostTree{seen: map[string]bool{}}
	elfs := []string{prog}
	for _, p := range append(strings.Fields(string(listed)), "/usr/bin/mpirun") {
		fi, err := os.Lstat(p)
		if err != nil || fi.IsDir() || strings.HasPrefix(p, "/usr/share/doc/") || strings.HasPrefix(p, "/usr/share/man/") {
			continue
		}
		if err := tree.add(p); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err == nil && bytes.HasPrefix(b, []byte("\x7fELF")) {
			elfs = append(elfs, p)
		}
	}
	libs, err := sharedLibraries(elfs)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if err := tree.add(l); err != nil {
			t.Fatal(err)
		}
	}
	body, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	tree.files = append(tree.files, testimage.File{Name: "usr/local", Dir: true, Mode: 0o755},
		testimage.File{Name: "usr/local/bin", Dir: true, Mode: 0o755}, testimage.File{Name: "usr/local/bin/ranks", Mode: 0o755, Body: body})
	img, err := testimage.Busybox(testimage.Options{Extra: tree.files})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push("test/openmpi:4", img)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// sharedLibraries lists what ldd finds the ELF files load, the dynamic
// loader included.
func sharedLibraries(elfs []string) ([]string, error) {
	out, err := exec.Command("ldd", elfs...).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd: %w", err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.Contains(line, "not found"):
			return nil, fmt.Errorf("ldd: %s", line)
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) == 2 && strings.HasPrefix(f[0], "/") && strings.HasPrefix(f[1], "(0x"):
			libs = append(libs, f[0])
		}
	}
	return libs, nil
}

// hostTree is a layer holding host paths as the host has them: each
// directory, symlink (and its target) and file once, under its real parent.
type hostTree struct {
	seen  map[string]bool
	files []testimage.File
}

func (h *hostTree) add(p string) error {
	if p == "/" || h.seen[p] {
		return nil
	}
	h.seen[p] = true
	parent := filepath.Dir(p)
	if err := h.add(parent); err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(parent); err != nil || real != parent {
		if err != nil {
			return err
		}
		return h.add(filepath.Join(real, filepath.Base(p)))
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	f := testimage.File{Name: strings.TrimPrefix(p, "/"), Mode: int64(fi.Mode().Perm())}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		if f.Linkname, err = os.Readlink(p); err != nil {
			return err
		}
		h.files = append(h.files, f)
		if filepath.IsAbs(f.Linkname) {
			return h.add(f.Linkname)
		}
		return h.add(filepath.Join(parent, f.Linkname))
	case fi.IsDir():
		f.Dir = true
	case fi.Mode().IsRegular():
		if f.Body, err = os.ReadFile(p); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: not a file, directory or symlink", p)
	}
	h.files = append(h.files, f)
	return nil
}

// blaunch is the test's LSF blaunch (in LSF_BINDIR, which the job's
// container has in its PATH): it sends its arguments, one a line (none may
// hold a newline), to the test's RES on 127.0.0.1, prints what the tasks
// printed and exits with the status RES sends after it.
const blaunch = `#!/bin/sh
out=$(printf '%%s\n' $# "$@" | nc 127.0.0.1 %d)
case $out in *"blaunch-exit: "*) ;; *) echo "blaunch: no answer from RES: $out" >&2; exit 255 ;; esac
printf '%%s' "${out%%?blaunch-exit: *}"
exit "${out##*blaunch-exit: }"
`

// resRequest is one blaunch: its arguments, answered on conn.
type resRequest struct {
	args []string
	conn net.Conn
}

// listenRES listens for blaunch on 127.0.0.1 and passes each request on.
func listenRES(t *testing.T) (int, <-chan resRequest) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	reqs := make(chan resRequest, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(reqs)
				return
			}
			r := bufio.NewReader(c)
			line, err := r.ReadString('\n')
			n, nerr := strconv.Atoi(strings.TrimSpace(line))
			args := make([]string, 0, max(n, 0))
			for err == nil && nerr == nil && len(args) < n {
				line, err = r.ReadString('\n')
				args = append(args, strings.TrimSuffix(line, "\n"))
			}
			if err != nil || nerr != nil {
				c.Close()
				continue
			}
			reqs <- resRequest{args, c}
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, reqs
}

// launch is a blaunch as LSF reads it, "blaunch [-n] [-u HOSTFILE | -z
// "HOSTS" | HOST] [-use-login-shell | -no-shell] COMMAND [ARG...]": one
// task per host named, per line of HOSTFILE, or (no host) per slot of the
// job; COMMAND [ARG...] joined by spaces for a shell, as rsh does, or with
// -no-shell run as it is.
type launch struct {
	hosts []string
	argv  []string
}

// parseBlaunch reads blaunch's arguments; slots is the job's
// LSB_MCPU_HOSTS ("HOST N ..."), each host once per slot.
func parseBlaunch(args []string, slots string) (launch, error) {
	var l launch
	if len(args) > 0 && args[0] == "-n" { // stdin from /dev/null: RES gives tasks none
		args = args[1:]
	}
	f := strings.Fields(slots)
	isHost := func(h string) bool {
		for i := 0; i < len(f); i += 2 {
			if f[i] == h {
				return true
			}
		}
		return false
	}
	switch {
	case len(args) > 1 && args[0] == "-z":
		l.hosts, args = strings.Fields(args[1]), args[2:]
	case len(args) > 1 && args[0] == "-u":
		b, err := os.ReadFile(args[1])
		if err != nil {
			return l, err
		}
		l.hosts, args = strings.Fields(string(b)), args[2:]
	case len(args) > 0 && isHost(args[0]):
		l.hosts, args = args[:1], args[1:]
	default:
		for i := 0; i+1 < len(f); i += 2 {
			n, _ := strconv.Atoi(f[i+1])
			for range n {
				l.hosts = append(l.hosts, f[i])
			}
		}
	}
	shell := []string{"/bin/sh", "-c"}
	switch {
	case len(args) > 0 && args[0] == "-no-shell":
		shell, args = nil, args[1:]
	case len(args) > 0 && args[0] == "-use-login-shell":
		shell, args = []string{"/bin/sh", "-l", "-c"}, args[1:]
	}
	if len(args) == 0 {
		return l, fmt.Errorf("no command")
	}
	l.argv = args
	if shell != nil {
		l.argv = append(shell, strings.Join(args, " "))
	}
	return l, nil
}

// The job script of a parallel job runs Open MPI's mpirun in the job's
// container on its first host, mpihost-a; mpirun starts orted on mpihost-b
// through blaunch with the documented launch agent, "dockless lsf task --
// orted", so orted and its ranks run in the job's container there. Each
// host's ranks share one container (the namespaces of mpirun, or orted,
// their parent) and its memory (an MPI shared-memory window); the ring and
// MPI_Allreduce cross the hosts over TCP on 127.0.0.1; a rank's exit
// status on mpihost-b is the job's; nothing is left on either host.
func TestLSFTask_OpenMPIAcrossTwoHosts(t *testing.T) {
	ref := mpiImage(t)
	for _, tc := range []struct {
		name string
		u    *testUser
	}{{"root", nil}, {"setuid as an ordinary user", &alice}} {
		t.Run(tc.name, func(t *testing.T) {
			// The application profile's ENV_VARS (docs/LSF.md, Open MPI 4).
			hosts, bins, spool := twoHosts(t, ref, tc.u, "OMPI_MCA_plm_rsh_agent=blaunch",
				"OMPI_MCA_orte_launch_agent=dockless lsf task -- orted", "OMPI_MCA_orte_leave_session_attached=1")
			script := `#!/bin/sh
for n in mnt pid ipc uts; do printf '%s ' $(readlink /proc/self/ns/$n); done; echo
exec mpirun --allow-run-as-root --hostfile "$LSB_DJOB_HOSTFILE" --mca mpi_yield_when_idle 1 \
  --mca btl self,vader,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo ranks 3 7
`
			jobFile := writeFile(t, filepath.Join(spool, "1580953421."+testJobID), script, 0o700)
			if tc.u != nil {
				if err := os.Chown(jobFile, int(tc.u.UID), int(tc.u.GID)); err != nil {
					t.Fatal(err)
				}
			}
			// A task RES started that fails (orted, or dockless refusing
			// it) leaves mpirun waiting for its daemon: it fails at once.
			r, args := runTwoHostJob(t, hosts, bins, jobFile, true)
			var launched []string
			for _, a := range args {
				launched = append(launched, strings.Join(a, " "))
			}
			// rsh semantics: Open MPI puts the orted command in "( test ! -r
			// ./.profile || . ./.profile; ... )" for a Bourne shell.
			if len(launched) != 1 || !strings.HasPrefix(launched[0], "mpihost-b ") || !strings.Contains(launched[0], "; dockless lsf task -- orted ") {
				t.Errorf("blaunch was asked for %q: want one orted on mpihost-b, through dockless lsf task", launched)
			}
			t.Logf("the job: %s", r.stdout)
			uid := "0"
			if tc.u != nil {
				uid = strconv.Itoa(int(tc.u.UID))
			}
			checkRanks(t, r, uid)
		})
	}
}

// twoHosts is a parallel job of u (root if nil) in image ref with extra
// environment on two simulated hosts (twoHostSlots, and a host file
// of them), each node's dockless (the directory of it, first in the PATH
// of the tasks RES starts there) and the job's spool directory.
func twoHosts(t *testing.T, ref string, u *testUser, extra ...string) (map[string]*parallelJob, map[string]string, string) {
	t.Helper()
	a := newParallelJob(t, newEnv(t), u)
	a.hostname = "mpihost-a"
	spool := filepath.Dir(a.j.jobFile)
	if u == nil {
		spool = userDir(t, filepath.Join(a.j.base, "root-spool"), testUser{}, 0o700)
	}
	hostfile := writeFile(t, filepath.Join(spool, testJobID+".hostfile"), "mpihost-a\nmpihost-a\nmpihost-b\nmpihost-b\n", 0o644)
	a.env = append(a.env, "LSB_CONTAINER_IMAGE="+ref, "LSB_MCPU_HOSTS="+twoHostSlots,
		"LSB_HOSTS=mpihost-a mpihost-a mpihost-b mpihost-b", "LSB_DJOB_HOSTFILE="+hostfile)
	a.env = append(a.env, extra...)
	b := a.onHost(t, newEnv(t), "mpihost-b")
	hosts := map[string]*parallelJob{"mpihost-a": a, "mpihost-b": b}
	bins := map[string]string{}
	for name, h := range hosts {
		bins[name] = userDir(t, filepath.Join(a.j.base, name+"-bin"), testUser{}, 0o755)
		if u == nil {
			writeFile(t, filepath.Join(bins[name], "dockless"), fmt.Sprintf("#!/bin/sh\nexec %s --root %s --state %s --policy %s \"$@\"\n", binary, h.e.root, h.e.state, suidPolicy), 0o755)
		} else if h == a {
			if err := os.Symlink(suidBinary, filepath.Join(bins[name], "dockless")); err != nil {
				t.Fatal(err)
			}
		} else {
			nodeSuidBinary(t, bins[name], a.e, h.e)
		}
	}
	return hosts, bins, spool
}

// nodeSuidBinary builds into dir another node's setuid dockless: the
// test's, whose policy (dir/dockless.toml) names to's store and state
// instead of from's.
func nodeSuidBinary(t *testing.T, dir string, from, to *env) {
	t.Helper()
	body, err := os.ReadFile(suidPolicy)
	if err != nil {
		t.Fatal(err)
	}
	pol := strings.NewReplacer(strconv.Quote(from.root), strconv.Quote(to.root), strconv.Quote(from.state), strconv.Quote(to.state)).Replace(string(body))
	policy := writeFile(t, filepath.Join(dir, "dockless.toml"), pol, 0o644)
	bin := filepath.Join(dir, "dockless")
	out, err := exec.Command("go", "build", "-tags", "seccomp", "-ldflags", "-X github.com/dockless/dockless/policy.DefaultPath="+policy, "-o", bin, ".").CombinedOutput()
	if err == nil {
		err = os.Chmod(bin, 0o755|os.ModeSetuid)
	}
	if err == nil {
		err = buildInit(dir)
	}
	if err != nil {
		t.Fatalf("the second node's setuid dockless: %v: %s", err, out)
	}
}

// twoHostSlots is the job's LSB_MCPU_HOSTS: two slots on each host.
const twoHostSlots = "mpihost-a 2 mpihost-b 2"

// runTwoHostJob runs the job file with dockless lsf run on mpihost-a, and
// each blaunch in tasks on their hosts (the test's RES: each task runs,
// as rsh's do, as the job's user in its host's job cgroup with that
// node's dockless first in PATH), until the job ends; it returns the
// job's result and the arguments of each blaunch. With failFast, a task
// that fails fails the test at once.
func runTwoHostJob(t *testing.T, hosts map[string]*parallelJob, bins map[string]string, jobFile string, failFast bool) (result, [][]string) {
	t.Helper()
	a := hosts["mpihost-a"]
	port, reqs := listenRES(t)
	writeFile(t, filepath.Join(a.j.lsfTop, "bin", "blaunch"), fmt.Sprintf(blaunch, port), 0o755)
	job := a.start(t, nil, true, nil, "lsf", "run", jobFile)
	job.release()
	var launched [][]string
	failed := make(chan string, 1)
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case req := <-reqs:
			launched = append(launched, req.args)
			l, err := parseBlaunch(req.args, twoHostSlots)
			for _, h := range l.hosts {
				if hosts[h] == nil && err == nil {
					err = fmt.Errorf("%s: not a host of the job", h)
				}
			}
			if err != nil {
				fmt.Fprintf(req.conn, "blaunch: %v\nblaunch-exit: 255\n", err)
				req.conn.Close()
				continue
			}
			var tasks []*task
			for _, name := range l.hosts {
				h := hosts[name]
				tasks = append(tasks, h.startCmd(t, h.u, true, []string{"PATH=" + bins[name] + ":/usr/bin:/bin"}, l.argv))
			}
			for _, tk := range tasks {
				tk.release()
			}
			go answerBlaunch(req.conn, l.hosts, tasks, failed)
		case r := <-job.done:
			job.done <- r
			return r, launched
		case f := <-failed:
			if failFast {
				t.Fatalf("a task RES started failed: %s\nlaunched %q; the job so far: %s", f, launched, job.out.String())
			}
		case <-deadline:
			t.Fatalf("the job did not end: launched %q; so far: %s", launched, job.out.String())
		}
	}
}

// answerBlaunch waits for a blaunch's tasks and sends their output and an
// exit status, the last failed task's or 0; a failed task is also sent on
// failed, if it is free.
func answerBlaunch(conn net.Conn, hosts []string, tasks []*task, failed chan<- string) {
	defer conn.Close()
	code := 0
	for i, tk := range tasks {
		res := <-tk.done
		tk.done <- res
		fmt.Fprintf(conn, "%s%s", res.stdout, res.stderr)
		if res.code != 0 {
			code = res.code
			select {
			case failed <- fmt.Sprintf("%s: %s", hosts[i], res):
			default:
			}
		}
	}
	fmt.Fprintf(conn, "\nblaunch-exit: %d\n", code)
}

// checkRanks checks the MPI job's output: its own namespaces, then one
// line from each of 4 ranks (testdata/mpi/ranks.c) of user uid; rank 3
// exits 7.
func checkRanks(t *testing.T, r result, uid string) {
	t.Helper()
	if r.code != 7 {
		t.Errorf("the job's exit status: want rank 3's, 7: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 5 {
		t.Fatalf("want the job's namespaces and 4 ranks: %s", r)
	}
	var host []string
	for _, n := range []string{"mnt", "pid", "ipc", "uts"} {
		l, _ := os.Readlink("/proc/self/ns/" + n)
		host = append(host, l)
	}
	jobNS := strings.Fields(lines[0])
	ranks := map[int]map[string]string{}
	for _, l := range lines[1:] {
		f := map[string]string{}
		for i, w := range strings.Fields(l) {
			if k, v, ok := strings.Cut(w, "="); ok {
				f[k] = v
			} else if i == 1 {
				f["rank"] = w
			}
		}
		n, err := strconv.Atoi(strings.TrimSuffix(f["rank"], "/4"))
		if !strings.HasPrefix(l, "rank ") || err != nil {
			t.Fatalf("not a rank's line: %q in %s", l, r)
		}
		ranks[n] = f
	}
	ns := func(f map[string]string) []string { return []string{f["mnt"], f["pid"], f["ipc"], f["uts"]} }
	for n := range 4 {
		f, want := ranks[n], map[string]string{"ring": "6", "allreduce": "10", "node": fmt.Sprintf("%d/2", n%2)}
		want["host"], want["shm"], want["parent"] = "mpihost-a", "0,1", "mpirun"
		if n >= 2 {
			want["host"], want["shm"], want["parent"] = "mpihost-b", "2,3", "orted"
		}
		want["init"], want["uid"] = "/sbin/docker-init", uid
		for k, v := range want {
			if f[k] != v {
				t.Errorf("rank %d: %s=%q, want %q: %s", n, k, f[k], v, r)
			}
		}
		for i, x := range ns(f) {
			if x == "" || x == host[i] {
				t.Errorf("rank %d is not in a container: %v (the test's: %v)", n, ns(f), host)
			}
		}
	}
	if a, a1 := strings.Join(ns(ranks[0]), " "), strings.Join(ns(ranks[1]), " "); a != a1 || a != strings.Join(jobNS, " ") {
		t.Errorf("mpihost-a: the job %v and its ranks %s, %s are not in one container", jobNS, a, a1)
	}
	b, b1 := strings.Join(ns(ranks[2]), " "), strings.Join(ns(ranks[3]), " ")
	if b != b1 {
		t.Errorf("mpihost-b: ranks 2 and 3 are not in one container: %s, %s", b, b1)
	}
	for i, x := range ns(ranks[2]) {
		if x == ns(ranks[0])[i] {
			t.Errorf("the hosts' containers share a namespace: %s", x)
		}
	}
}
