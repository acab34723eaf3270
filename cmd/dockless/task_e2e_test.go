package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The per-host container of a parallel LSF job (dockless lsf task), on one
// machine: LSF is faked by the job's environment and a job cgroup in every
// v1 controller; each task is started by a harness (a shell waiting for a
// line on its stdin) that the test moves into the job cgroup before
// releasing it, as LSF starts a task in its job's cgroup.

// parallelJob is one simulated parallel job of a user on this node.
type parallelJob struct {
	e       *env
	j       *lsfJobFixture
	u       *testUser // nil: root, through the non-setuid binary
	cgroups []string
	env     []string
	// hostname, when set, is the simulated host's name: each task's
	// dockless runs in a UTS namespace of its own with it.
	hostname string
}

func newParallelJob(t *testing.T, e *env, u *testUser) *parallelJob {
	t.Helper()
	user := alice
	if u != nil {
		user = *u
	}
	j := newLSFJob(t, e, user, "true")
	p := &parallelJob{e: e, j: j, u: u}
	host, _ := os.Hostname()
	p.env = append(append([]string{}, j.env...), "LSB_MCPU_HOSTS="+host+" 4", "LSB_DJOB_NUMPROC=4")
	if u == nil {
		tmp := filepath.Join(j.base, "roottmp")
		if err := os.Mkdir(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		p.env = append(p.env, "HOME=/root", "USER=root", "TMPDIR="+tmp)
	}
	p.onNode(t)
	return p
}

// onHost is the same job on another simulated host named name: e's store
// and state stand for that node's, with a job cgroup and TMPDIR of its own.
func (p *parallelJob) onHost(t *testing.T, e *env, name string) *parallelJob {
	t.Helper()
	owner := testUser{}
	if p.u != nil {
		owner = *p.u
	}
	tmp := userDir(t, filepath.Join(p.j.base, name, testJobID+".tmpdir"), owner, 0o700)
	q := &parallelJob{e: e, j: p.j, u: p.u, env: append(append([]string{}, p.env...), "TMPDIR="+tmp), hostname: name}
	q.onNode(t)
	return q
}

// onNode makes the job's cgroup on p's node, and checks at the test's end
// that the job's container there left nothing.
func (p *parallelJob) onNode(t *testing.T) {
	t.Helper()
	p.cgroups = makeJobCgroups(t, fmt.Sprintf("dltest-job-%d", rand.Intn(1<<30)))
	t.Cleanup(func() {
		p.assertGone(t)
		if t.Failed() { // tasks killed at the test's end leave the container to the next reap
			p.e.run("system", "prune")
		}
	})
}

// task is one started task, waiting to be released.
type task struct {
	cmd      *exec.Cmd
	stdin    *os.File
	out, err syncBuffer
	done     chan result
}

// syncBuffer is output written by a process and read while it runs.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	more chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.more != nil {
		close(s.more)
		s.more = nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output holds want.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		s.mu.Lock()
		if strings.Contains(s.b.String(), want) {
			s.mu.Unlock()
			return
		}
		more := make(chan struct{})
		s.more = more
		s.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no %q in the output %q", want, s.String())
		}
	}
}

// start starts "dockless ARGS" as the job's user (as, if set), in the job
// cgroup if inJob, with extra environment; it runs once released.
func (p *parallelJob) start(t *testing.T, as *testUser, inJob bool, extra []string, args ...string) *task {
	t.Helper()
	bin, u := binary, p.u
	if as != nil {
		u = as
	}
	if u != nil {
		bin = suidBinary
	} else {
		args = append([]string{"--root", p.e.root, "--state", p.e.state, "--policy", suidPolicy}, args...)
	}
	return p.startCmd(t, u, inJob, extra, append([]string{bin}, args...))
}

// startCmd starts argv as u (root if nil) on p's host, in the job cgroup
// if inJob, with extra environment; it runs once released.
func (p *parallelJob) startCmd(t *testing.T, u *testUser, inJob bool, extra []string, argv []string) *task {
	t.Helper()
	script := `read go && exec "$@"`
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, argv...)...)
	cmd.Env = append(append([]string{}, p.env...), extra...)
	cmd.Dir = p.j.storage
	if u != nil {
		cmd.SysProcAttr = asUserAttr(*u)
		cmd.Dir = u.Home
	}
	if p.hostname != "" { // root names the host, then becomes u
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
		cmd.Args[2] = "hostname " + p.hostname + " && " + script
		if u != nil {
			var groups []string
			for _, g := range u.Groups {
				groups = append(groups, strconv.Itoa(int(g)))
			}
			cmd.Args[2] = fmt.Sprintf(`hostname %s && exec setpriv --reuid=%d --regid=%d --groups=%s -- sh -c '%s' sh "$@"`,
				p.hostname, u.UID, u.GID, strings.Join(groups, ","), script)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	tk := &task{cmd: cmd, stdin: w, done: make(chan result, 1)}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &tk.out, &tk.err
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-tk.done })
	go func() {
		err := cmd.Wait()
		res := result{stdout: tk.out.String(), stderr: tk.err.String(), code: cmd.ProcessState.ExitCode()}
		if err != nil && cmd.ProcessState == nil {
			res.code = -1
		}
		tk.done <- res
	}()
	if inJob {
		for _, d := range p.cgroups {
			if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tk
}

func (tk *task) release() {
	_, _ = tk.stdin.WriteString("go\n")
	tk.stdin.Close()
}

func (tk *task) wait(t *testing.T) result {
	t.Helper()
	select {
	case r := <-tk.done:
		tk.done <- r
		return r
	case <-time.After(2 * time.Minute):
		t.Fatalf("task %v did not end", tk.cmd.Args)
		return result{}
	}
}

// assertGone checks that the job's container left nothing: no state of
// its key, no cgroup below the job's.
func (p *parallelJob) assertGone(t *testing.T) {
	if entries, _ := os.ReadDir(filepath.Join(p.e.state, "lsf")); len(entries) > 0 {
		t.Errorf("job container state left behind: %s", entries[0].Name())
	}
	for _, d := range p.cgroups {
		if left, _ := filepath.Glob(filepath.Join(d, "dockless-*")); len(left) > 0 {
			t.Errorf("cgroup left behind below the job's: %s", left[0])
		}
	}
}

// barrier waits inside the container until n tasks wrote their file to
// /dev/shm (they can only see each other's if they share it).
func barrier(n int) string {
	return fmt.Sprintf(`i=0; while [ $(ls /dev/shm | grep -c '^task') -lt %d ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`, n)
}

// Four tasks started together share one container: the same mount, IPC,
// PID and UTS namespaces, the host's network, one /dev/shm, the holder as
// PID 1; each runs as the job's user, on its own CPUs, and exits with its
// own status; nothing is left after the last.
func TestLSFTask_FourTasksShareOneContainer(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    *testUser
	}{{"root", nil}, {"setuid as an ordinary user", &alice}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := newParallelJob(t, e, tc.u)
			script := `echo "from $1" > /dev/shm/task$1; ` + barrier(4) + `
for n in mnt ipc pid uts net; do echo "$n $(readlink /proc/self/ns/$n)"; done
cat /dev/shm/task*; id -u; tr '\0' ' ' < /proc/1/cmdline; echo
grep Cpus_allowed_list /proc/self/status | tr -d '\t'; exit $((10+$1))`
			var tasks []*task
			for i := range 4 {
				tasks = append(tasks, p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/sh", "-c", script, "sh", strconv.Itoa(i)))
			}
			var one unix.CPUSet
			one.Set(1)
			if err := unix.SchedSetaffinity(tasks[0].cmd.Process.Pid, &one); err != nil {
				t.Fatal(err)
			}
			for _, tk := range tasks {
				tk.release()
			}
			uid := "0"
			if tc.u != nil {
				uid = strconv.Itoa(int(tc.u.UID))
			}
			hostNet, _ := os.Readlink("/proc/self/ns/net")
			var first []string
			for i, tk := range tasks {
				r := tk.wait(t)
				if r.code != 10+i {
					t.Fatalf("task %d: want exit %d: %s", i, 10+i, r)
				}
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if len(lines) != 12 {
					t.Fatalf("task %d output: %s", i, r)
				}
				if i == 0 {
					first = lines[:4]
				} else if strings.Join(lines[:4], " ") != strings.Join(first, " ") {
					t.Errorf("task %d is in other namespaces: %v, task 0: %v", i, lines[:4], first)
				}
				if lines[4] != "net "+hostNet {
					t.Errorf("task %d: %s, the host's is %s", i, lines[4], hostNet)
				}
				if got := strings.Join(lines[5:9], ","); got != "from 0,from 1,from 2,from 3" {
					t.Errorf("task %d does not see the others' /dev/shm files: %s", i, got)
				}
				if lines[9] != uid || strings.TrimSpace(lines[10]) != "/sbin/docker-init --hold" {
					t.Errorf("task %d: uid %s, PID 1 %q", i, lines[9], lines[10])
				}
				if i == 0 && lines[11] != "Cpus_allowed_list:1" {
					t.Errorf("task 0 was given CPU 1: %s", lines[11])
				}
			}
		})
	}
}

// The job script of a parallel job (dockless lsf run) makes or joins the
// same container as its tasks. Its variables alone let no one in: a task
// outside the job's cgroup (another of the user's jobs, or none), or of
// another user, is refused, naming the rule.
func TestLSFTask_OnlyTheJobsOwnTasksJoin(t *testing.T) {
	e := newEnv(t)
	p := newParallelJob(t, e, &alice)
	script := "#!/bin/sh\necho job > /dev/shm/taskjob\nreadlink /proc/self/ns/pid\nwhile [ ! -e /dev/shm/done ]; do sleep 0.1; done\n"
	if err := os.WriteFile(p.j.jobFile, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	job := p.start(t, nil, true, nil, "lsf", "run", p.j.jobFile)
	job.release()
	joined := p.start(t, nil, true, nil, "lsf", "task", "/bin/sh", "-c", barrier(1)+"; cat /dev/shm/taskjob; readlink /proc/self/ns/pid")
	joined.release()
	r := joined.wait(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || lines[0] != "job" {
		t.Fatalf("a task of the job: %s", r)
	}
	missing := p.start(t, nil, true, nil, "lsf", "task", "--", "/no/such/command")
	missing.release()
	if r := missing.wait(t); r.code != 127 {
		t.Errorf("a task whose command is not there: want 127, as docker exec: %s", r)
	}
	other := makeJobCgroups(t, fmt.Sprintf("dltest-job-%d", rand.Intn(1<<30)))
	bobTmp := userDir(t, filepath.Join(p.j.base, "lsbtmp", "bob.tmpdir"), bob, 0o700)
	bobEnv := []string{"HOME=" + bob.Home, "USER=" + bob.Name, "TMPDIR=" + bobTmp}
	for _, tc := range []struct {
		name  string
		as    *testUser
		inJob bool
		move  []string
		want  string
	}{
		{"the same user outside any job cgroup", nil, false, nil, "not in the cgroup of LSF job"},
		{"the same user in another job's cgroup", nil, false, other, "not in the cgroup of LSF job"},
		{"another user in the job cgroup", &bob, true, nil, "another user's"},
		{"another user outside it", &bob, false, nil, "another user's"},
	} {
		var extra []string
		if tc.as != nil {
			extra = bobEnv
		}
		tk := p.start(t, tc.as, tc.inJob, extra, "lsf", "task", "--", "/bin/echo", "joined")
		for _, d := range tc.move {
			if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(tk.cmd.Process.Pid)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tk.release()
		r := tk.wait(t)
		if r.code != 125 || strings.Contains(r.stdout, "joined") || !strings.Contains(r.stderr, "refused") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: want refused (125, %q): %s", tc.name, tc.want, r)
		}
	}
	done := p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/touch", "/dev/shm/done")
	done.release()
	if r := done.wait(t); r.code != 0 {
		t.Errorf("touch: %s", r)
	}
	r = job.wait(t)
	if out := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || out[len(out)-1] != lines[1] {
		t.Errorf("the job script and its task: pid namespaces %v and %s: %s", out, lines[1], r)
	}
}

// A task killed (its dockless SIGKILLed) leaves, and SIGTERM to a task's
// dockless reaches only its own process: the others go on and exit with
// their status; the last one out removes the container.
func TestLSFTask_SignalsReachOnlyTheirTask(t *testing.T) {
	e := newEnv(t)
	p := newParallelJob(t, e, &alice)
	var tasks []*task
	for i := range 3 {
		script := `touch /dev/shm/task` + strconv.Itoa(i) + `; ` + barrier(3) + `; echo ready; exec sleep 60`
		if i == 2 {
			script = `touch /dev/shm/task2; ` + barrier(3) + `; echo ready; i=0; while [ -e /dev/shm/task1 ] || [ -e /dev/shm/task0 ]; do sleep 0.1; done; exit 7`
		}
		tasks = append(tasks, p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/sh", "-c", script))
	}
	for _, tk := range tasks {
		tk.release()
	}
	for _, tk := range tasks {
		tk.out.waitFor(t, "ready")
	}
	_ = tasks[0].cmd.Process.Signal(syscall.SIGKILL)
	_ = tasks[1].cmd.Process.Signal(syscall.SIGTERM)
	if r := tasks[1].wait(t); r.code != 143 {
		t.Errorf("SIGTERM to a task: want 143: %s", r)
	}
	// Task 2 ends once the others' files are gone: rm them from it.
	rm := p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/rm", "/dev/shm/task0", "/dev/shm/task1")
	rm.release()
	if r := rm.wait(t); r.code != 0 {
		t.Errorf("rm: %s", r)
	}
	if r := tasks[2].wait(t); r.code != 7 {
		t.Errorf("the task left running: want its exit 7: %s", r)
	}
}

// A killed holder takes the members with it; the next task on the job
// removes what is left and makes a new container.
func TestLSFTask_AKilledHolderIsReplaced(t *testing.T) {
	e := newEnv(t)
	p := newParallelJob(t, e, &alice)
	tk := p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/sh", "-c", "readlink /proc/self/ns/pid; echo ready; exec sleep 60")
	tk.release()
	tk.out.waitFor(t, "ready")
	holder := holderPid(t, e)
	if err := syscall.Kill(holder, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := tk.wait(t)
	if r.code != 137 {
		t.Errorf("a member of a container whose holder died: want 137: %s", r)
	}
	again := p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/readlink", "/proc/self/ns/pid")
	again.release()
	r2 := again.wait(t)
	old := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r2.code != 0 || len(old) < 2 || !strings.HasPrefix(old[0], "pid:") || strings.TrimSpace(r2.stdout) == old[0] {
		t.Errorf("after the holder died: %s (old pid namespace %v)", r2, old)
	}
}

// Thirty-two tasks racing to make the container get one, and all run.
func TestLSFTask_ThirtyTwoTasksRace(t *testing.T) {
	e := newEnv(t)
	p := newParallelJob(t, e, &alice)
	var tasks []*task
	for i := range 32 {
		tasks = append(tasks, p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/sh", "-c",
			"touch /dev/shm/task"+strconv.Itoa(i)+"; "+barrier(32)+"; readlink /proc/self/ns/pid"))
	}
	var wg sync.WaitGroup
	for _, tk := range tasks {
		wg.Add(1)
		go func() { defer wg.Done(); tk.release() }()
	}
	wg.Wait()
	seen := map[string]int{}
	for i, tk := range tasks {
		r := tk.wait(t)
		if r.code != 0 {
			t.Errorf("task %d: %s", i, r)
		}
		seen[strings.TrimSpace(r.stdout)]++
	}
	if len(seen) != 1 {
		t.Errorf("32 tasks in %d pid namespaces: %v", len(seen), seen)
	}
}

// holderPid is the holder of the env's one job container.
func holderPid(t *testing.T, e *env) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.state, "containers", "*", "record.json"))
	if len(files) != 1 {
		t.Fatalf("want one container record, got %v", files)
	}
	var rec struct {
		InitPid int `json:"init_pid"`
	}
	b, err := os.ReadFile(files[0])
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil || rec.InitPid == 0 {
		t.Fatalf("no holder in %s: %v", b, err)
	}
	return rec.InitPid
}

// A site hook matched by io.dockless.lsf.parallel runs once for the
// job's container, not once per task; a hook file others may write is
// refused, naming the rule.
func TestLSFTask_SiteHooksRunOncePerContainer(t *testing.T) {
	e := newEnv(t)
	p := newParallelJob(t, e, &alice)
	dir := openTempDir(t)
	hooksDir, log := filepath.Join(dir, "hooks.d"), filepath.Join(dir, "hook.log")
	if err := os.Mkdir(hooksDir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := writeFile(t, filepath.Join(dir, "log-state"), "#!/bin/sh\ncat >> "+log+"\necho >> "+log+"\n", 0o755)
	hook := writeFile(t, filepath.Join(hooksDir, "mpi.json"), `{"version":"1.0.0","hook":{"path":"`+script+`"},
"when":{"annotations":{"^io\\.dockless\\.lsf\\.parallel$":"^true$"}},"stages":["createRuntime"]}`, 0o644)
	appendPolicy(t, fmt.Sprintf("[hooks]\ndirs = [%q]\n", hooksDir))
	var tasks []*task
	for i := range 4 {
		tasks = append(tasks, p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/sh", "-c", "touch /dev/shm/task"+strconv.Itoa(i)+"; "+barrier(4)))
	}
	for _, tk := range tasks {
		tk.release()
	}
	for i, tk := range tasks {
		if r := tk.wait(t); r.code != 0 {
			t.Errorf("task %d: %s", i, r)
		}
	}
	b, _ := os.ReadFile(log)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], `"io.dockless.lsf.job":"`+testJobID+`"`) {
		t.Errorf("the hook ran %d times for one container (want once, with the job's annotation): %s", len(lines), b)
	}
	if err := os.Chmod(hook, 0o664); err != nil {
		t.Fatal(err)
	}
	tk := p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/true")
	tk.release()
	if r := tk.wait(t); r.code != 125 || !strings.Contains(r.stderr, hook) || !strings.Contains(r.stderr, "writable by no one else") {
		t.Errorf("a group-writable hook file: want refused: %s", r)
	}
}

// appendPolicy adds extra TOML to the setuid binary's policy.
func appendPolicy(t *testing.T, extra string) {
	t.Helper()
	f, err := os.OpenFile(suidPolicy, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(extra)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile writes a root-owned file with mode and returns its path.
func writeFile(t *testing.T, p, body string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// bstop and bkill act on the job cgroup: freezing it freezes the job's
// container (its holder and every task), and SIGTERM to every process in
// it (bkill's first signal) ends every task; the last removes the
// container.
func TestLSFTask_TheJobCgroupReachesEveryMember(t *testing.T) {
	e := newEnv(t)
	p := newParallelJob(t, e, &alice)
	var tasks []*task
	for i := range 2 {
		tasks = append(tasks, p.start(t, nil, true, nil, "lsf", "task", "--", "/bin/sh", "-c",
			"touch /dev/shm/task"+strconv.Itoa(i)+"; "+barrier(2)+"; echo ready; exec sleep 60"))
	}
	for _, tk := range tasks {
		tk.release()
	}
	for _, tk := range tasks {
		tk.out.waitFor(t, "ready")
	}
	var freezer, pids string
	for _, d := range p.cgroups {
		switch {
		case strings.HasPrefix(d, "/sys/fs/cgroup/freezer/"):
			freezer = d
		case strings.HasPrefix(d, "/sys/fs/cgroup/pids/"):
			pids = d
		}
	}
	if freezer == "" || pids == "" {
		t.Skip("no freezer or pids hierarchy")
	}
	if err := os.WriteFile(filepath.Join(freezer, "freezer.state"), []byte("FROZEN"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(findCgroupUnder(freezer), "freezer.state"), "FROZEN", "bstop freezes the job's container")
	// Another container on the node reaps at its start: a suspended job's
	// container is not taken for one without members.
	holder := holderPid(t, e)
	e.mustRun("run", "--rm", "-q", busybox, "true")
	if err := os.WriteFile(filepath.Join(freezer, "freezer.state"), []byte("THAWED"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(findCgroupUnder(freezer), "freezer.state"), "THAWED", "bresume thaws it")
	if again := holderPid(t, e); again != holder {
		t.Fatalf("the suspended job's container was replaced: holder %d, then %d", holder, again)
	}
	// Nor is one paused itself (dockless pause).
	dirs, _ := filepath.Glob(filepath.Join(e.state, "containers", "*"))
	if len(dirs) != 1 {
		t.Fatalf("containers: %v", dirs)
	}
	e.mustRun("pause", filepath.Base(dirs[0]))
	e.mustRun("run", "--rm", "-q", busybox, "true")
	if again := holderPid(t, e); again != holder {
		t.Fatalf("the paused job's container was replaced: holder %d, then %d", holder, again)
	}
	e.mustRun("unpause", filepath.Base(dirs[0]))
	for _, pid := range tasksBelow(t, pids) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	for i, tk := range tasks {
		if r := tk.wait(t); r.code != 143 && r.code != 137 {
			t.Errorf("task %d after bkill's SIGTERM: want 143 (or 137, its holder gone first): %s", i, r)
		}
	}
}
