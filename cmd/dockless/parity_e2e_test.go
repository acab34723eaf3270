package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
)

// The differences a user porting a `docker run` line met (issue 17): each
// test reads what docker's behaviour is about from inside the container.

// pushImage builds busybox with o and serves it as repoTag.
func pushImage(t *testing.T, repoTag string, o testimage.Options) string {
	t.Helper()
	img, err := testimage.Busybox(o)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push(repoTag, img)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// mountLine is the /proc/mounts line of the mount at dst in out ("" none).
func mountLine(out, dst string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 3 && f[1] == dst {
			return l
		}
	}
	return ""
}

// An image's VOLUME is a fresh directory of the container's own, seeded
// from the image and writable under --read-only, for root and for a user
// (setuid); nothing of it outlives the container (assertClean).
func TestParity_ImageVolumesAreFreshAndWritable(t *testing.T) {
	e := newEnv(t)
	ref := pushImage(t, "test/volumes:1", testimage.Options{Volumes: []string{"/data", "/cache"}, Extra: []testimage.File{
		{Name: "data", Dir: true, Mode: 0o777},
		{Name: "data/seed", Mode: 0o644, Body: []byte("from the image\n")},
	}})
	script := "cat /data/seed && echo new > /data/new && touch /cache/x && ! touch /etc/x 2>/dev/null && grep -E ' /(data|cache) ' /proc/mounts"
	r := e.run("run", "--rm", "-q", "--read-only", ref, "sh", "-c", script)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "from the image\n") || mountLine(r.stdout, "/data") == "" || mountLine(r.stdout, "/cache") == "" {
		t.Fatalf("root: %s", r)
	}
	if r := e.run("run", "--rm", "-q", ref, "ls", "/data"); r.code != 0 || r.stdout != "seed\n" {
		t.Fatalf("a second container sees what the first wrote: %s", r)
	}
	dir := openTempDir(t)
	if r := e.run("run", "--rm", "-q", "-v", dir+":/data", ref, "ls", "/data"); r.code != 0 || r.stdout != "" {
		t.Fatalf("a bind at the volume's path replaces it: %s", r)
	}
	e.writePolicy("")
	r = e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", "--read-only", ref, "sh", "-c", "cat /data/seed && echo new > /data/new && touch /cache/y 2>/dev/null; id -u")
	if r.code != 0 || r.stdout != "from the image\n61001\n" {
		t.Fatalf("a user (/data is 0777 in the image, /cache root's 0755): %s", r)
	}
}

// -v ./DIR and --mount source=./DIR are taken in the working directory, as
// docker's client does since 23, through the same checks; so are relative
// --env-file, --label-file and --cidfile paths.
func TestParity_RelativePaths(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "f"), []byte("relative\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-v", "./data:/d"},
		{"-v", ".:/w", "-w", "/w/data"},
		{"--mount", "type=bind,source=./data,target=/d"},
	} {
		r := e.runWith(func(c *exec.Cmd) { c.Dir = dir }, append(append([]string{"run", "--rm", "-q"}, args...), busybox, "sh", "-c", "cat /d/f 2>/dev/null || cat f")...)
		if r.code != 0 || r.stdout != "relative\n" {
			t.Errorf("%v: %s", args, r)
		}
	}
	if r := e.runWith(func(c *exec.Cmd) { c.Dir = dir }, "run", "--rm", "-q", "-v", "./missing:/d", busybox, "true"); r.code != 125 || !strings.Contains(r.stderr, dir+"/missing") {
		t.Errorf("a missing relative source is refused by its full path: %s", r)
	}
	if err := os.WriteFile(filepath.Join(dir, "envfile"), []byte("FROM_FILE=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cid := "cid-" + filepath.Base(e.cidfile("relative"))
	r := e.runWith(func(c *exec.Cmd) { c.Dir = dir }, "run", "--rm", "-q", "--env-file", "envfile", "--label-file", "data/f", "--cidfile", cid, busybox, "sh", "-c", "echo $FROM_FILE")
	if b, err := os.ReadFile(filepath.Join(dir, cid)); r.code != 0 || r.stdout != "yes\n" || err != nil || len(b) != 64 {
		t.Errorf("relative --env-file, --label-file and --cidfile: %s (cidfile %q %v)", r, b, err)
	}
}

// The primary group is among the supplementary groups, as docker's.
func TestParity_PrimaryGroupInGroups(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-u", "1000:100"}, "Groups:\t100 \n"},
		{[]string{"-u", "alice"}, "Groups:\t100 2000 \n"},
		{[]string{"-u", "4242"}, "Groups:\t0 \n"},
		{[]string{"-u", "1000:100", "--group-add", "5000"}, "Groups:\t100 5000 \n"},
	} {
		r := e.run(append(append([]string{"run", "--rm", "-q"}, tc.args...), busybox, "grep", "^Groups:", "/proc/self/status")...)
		if r.code != 0 || r.stdout != tc.want {
			t.Errorf("%v: want %q, got %s", tc.args, tc.want, r)
		}
	}
}

// A value attached to its short flag, as docker's parser takes it, for
// run and for exec.
func TestParity_AttachedShortFlagValues(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("run", "--rm", "-q", "-eK=V", "-ualice", "-m64m", "-v"+dir+":/b", "-w/b", busybox, "sh", "-c",
		"echo $K; id -un; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat f")
	if want := fmt.Sprintf("V\nalice\n%d\nbound\n", 64<<20); r.code != 0 || r.stdout != want {
		t.Fatalf("want %q, got %s", want, r)
	}
	cid := e.cidfile("attached")
	done := make(chan result, 1)
	go func() { done <- e.run("run", "--rm", "-q", "--cidfile", cid, busybox, "sleep", "30") }()
	waitForInit(t, cid)
	id, _ := os.ReadFile(cid)
	r = e.run("exec", "-eK=W", "-ualice", string(id), "sh", "-c", "echo $K; id -un")
	if r.code != 0 || r.stdout != "W\nalice\n" {
		t.Errorf("exec: %s", r)
	}
	e.mustRun("kill", string(id))
	<-done
}

// -e KEY with no KEY in the caller's environment removes the image's KEY,
// as docker's does; a bare KEY line of an env file the caller lacks is
// left out, keeping the image's, as docker's client does.
func TestParity_BareEnvKeyUnsetsTheImagesKey(t *testing.T) {
	e := newEnv(t)
	ref := pushImage(t, "test/env:1", testimage.Options{Env: []string{"FROM_IMAGE=image", "KEEP=kept"}})
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("FROM_IMAGE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-e", "FROM_IMAGE"}, "unset kept\n"},
		{[]string{"--env-file", envFile}, "image kept\n"},
	} {
		r := e.runWith(func(c *exec.Cmd) { c.Env = []string{"PATH=/usr/bin:/bin"} },
			append(append([]string{"run", "--rm", "-q"}, tc.args...), ref, "sh", "-c", "echo ${FROM_IMAGE-unset} $KEEP")...)
		if r.code != 0 || r.stdout != tc.want {
			t.Errorf("%v: want %q, got %s", tc.args, tc.want, r)
		}
	}
	for _, args := range [][]string{{"-e", "FROM_IMAGE"}, {"--env-file", envFile}} {
		r := e.runWith(func(c *exec.Cmd) { c.Env = []string{"PATH=/usr/bin:/bin", "FROM_IMAGE=caller"} },
			append(append([]string{"run", "--rm", "-q"}, args...), ref, "sh", "-c", "echo $FROM_IMAGE")...)
		if r.code != 0 || r.stdout != "caller\n" {
			t.Errorf("%v takes the caller's KEY: %s", args, r)
		}
	}
}

// --read-only makes the generated /etc files read-only too.
func TestParity_ReadOnlyEtcFiles(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	r := e.run("run", "--rm", "-q", "--read-only", busybox, "sh", "-c", "cat /proc/mounts; for f in hosts hostname resolv.conf; do echo x >> /etc/$f && echo wrote $f; done; true")
	if r.code != 0 || strings.Contains(r.stdout, "wrote") {
		t.Fatalf("%s", r)
	}
	for _, f := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if l := mountLine(r.stdout, f); !strings.Contains(" "+strings.Fields(l + " x x x")[3]+",", " ro,") {
			t.Errorf("%s: %q", f, l)
		}
	}
	r = e.run("run", "--rm", "-q", busybox, "sh", "-c", "echo x >> /etc/hosts && echo wrote")
	if r.code != 0 || r.stdout != "wrote\n" {
		t.Errorf("without --read-only they stay writable, as docker's: %s", r)
	}
}

// A digest reference of an image cached under its tag runs under --pull
// never, from the cache.
func TestParity_DigestReferenceOfATagCachedImage(t *testing.T) {
	e := newEnv(t)
	img, err := testimage.Busybox(testimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push("test/digest:1", img)
	if err != nil {
		t.Fatal(err)
	}
	e.mustRun("pull", "-q", ref)
	d, _ := img.Digest()
	byDigest := strings.TrimSuffix(ref, ":1") + "@" + d.String()
	for _, pull := range []string{"never", "missing"} {
		if r := e.run("run", "--rm", "-q", "--pull", pull, byDigest, "true"); r.code != 0 {
			t.Errorf("--pull %s %s: %s", pull, byDigest, r)
		}
	}
	if out := e.mustRun("images", "-q"); strings.Count(out, "\n") != 1 {
		t.Errorf("the digest reference was pulled again:\n%s", out)
	}
}

// --init: dockless-init is PID 1 (one thread), runs the command with its
// status, forwards signals and reaps orphans, for root and for a user.
func TestParity_Init(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	script := "cat /proc/1/cmdline | tr '\\0' ' '; echo; grep Threads /proc/1/status; sh -c 'sleep 0.2 &'; sleep 0.5; ps -o stat,args | grep -c '^Z' ; exit 3"
	r := e.run("run", "--rm", "-q", "--init", busybox, "sh", "-c", script)
	want := "/sbin/docker-init -- sh -c " + script + " \nThreads:\t1\n0\n"
	if r.code != 3 || r.stdout != want {
		t.Fatalf("want exit 3 with %q, got %s", want, r)
	}
	for _, tc := range []struct {
		cmd  []string
		code int
	}{{[]string{"no-such-command"}, 127}, {[]string{"/etc"}, 126}, {[]string{"sh", "-c", "kill -TERM $$"}, 143}} {
		if r := e.run(append([]string{"run", "--rm", "-q", "--init", busybox}, tc.cmd...)...); r.code != tc.code {
			t.Errorf("%v: want exit %d, got %s", tc.cmd, tc.code, r)
		}
	}
	// docker stop's SIGTERM reaches a command that is not PID 1.
	cid := e.cidfile("init")
	done := make(chan result, 1)
	go func() {
		done <- e.run("run", "--rm", "-q", "--init", "--cidfile", cid, busybox, "sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.1; done")
	}()
	waitForProcess(t, cid, "sh")
	id, _ := os.ReadFile(cid)
	e.mustRun("stop", "-t", "20", string(id))
	if r := <-done; r.code != 42 {
		t.Errorf("the trap's exit 42 after stop, got %s", r)
	}
	e.writePolicy("")
	if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", "--init", busybox, "sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '"); r.code != 0 || r.stdout != "61001\n/sbin/docker-init -- sh -c id -u; cat /proc/1/cmdline | tr '\\0' ' ' " {
		t.Errorf("a user's --init: %s", r)
	}
}

// --tmpfs and --mount type=tmpfs: docker's options, writable under
// --read-only.
func TestParity_Tmpfs(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	r := e.run("run", "--rm", "-q", "--read-only", "--tmpfs", "/scratch:size=1m,mode=1770", "--mount", "type=tmpfs,target=/t,tmpfs-size=2m",
		busybox, "sh", "-c", "touch /scratch/x /t/y && cat /proc/mounts")
	if r.code != 0 {
		t.Fatal(r)
	}
	for dst, want := range map[string][]string{"/scratch": {"tmpfs", "rw", "nosuid", "nodev", "noexec", "size=1024k", "mode=1770"}, "/t": {"tmpfs", "size=2048k", "noexec"}} {
		l := mountLine(r.stdout, dst)
		for _, w := range want {
			if !strings.Contains(l, w) {
				t.Errorf("%s: want %s in %q", dst, w, l)
			}
		}
	}
}

// --cpus, --cpu-quota/--cpu-period, --cpuset-cpus, --pids-limit and
// --oom-score-adj, read from the container's own cgroup (v1 here; the v2
// files are runtime's TestCgroupFiles_DockerResourceFlags).
func TestParity_ResourceFlags(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	for _, tc := range []struct {
		args []string
		read string
		want string
	}{
		{[]string{"--cpus", "1.5"}, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us", "150000\n100000\n"},
		{[]string{"--cpu-quota", "50000", "--cpu-period", "200000"}, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us", "50000\n200000\n"},
		{[]string{"--cpuset-cpus", "0", "--cpuset-mems", "0"}, "cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems", "0\n0\n"},
		{[]string{"--pids-limit", "20"}, "cat /sys/fs/cgroup/pids/pids.max", "20\n"},
		{[]string{"--pids-limit", "-1"}, "cat /sys/fs/cgroup/pids/pids.max", "max\n"},
		{[]string{"--oom-score-adj", "300"}, "cat /proc/self/oom_score_adj", "300\n"},
	} {
		r := e.run(append(append([]string{"run", "--rm", "-q"}, tc.args...), busybox, "sh", "-c", tc.read)...)
		if r.code != 0 || r.stdout != tc.want {
			t.Errorf("%v: want %q, got %s", tc.args, tc.want, r)
		}
	}
	r := e.run("run", "--rm", "-q", "--pids-limit", "5", busybox, "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 1 & done 2>&1; wait")
	if !strings.Contains(r.stdout+r.stderr, "fork") {
		t.Errorf("--pids-limit 5 must stop the sixth process: %s", r)
	}
	e.writePolicy("")
	if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", "--oom-score-adj", "-500", busybox, "true"); r.code != 125 || !strings.Contains(r.stderr, "only privilege lowers an OOM score") {
		t.Errorf("a user may not lower the OOM score: %s", r)
	}
}

// --dns, --dns-search, --dns-option; --network none's hosts; host-gateway.
func TestParity_NameResolutionFiles(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	r := e.run("run", "--rm", "-q", "--dns", "10.0.0.2", "--dns", "10.0.0.3", "--dns-search", "example.com", "--dns-option", "ndots:2", busybox, "cat", "/etc/resolv.conf")
	if want := "search example.com\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions ndots:2\n"; r.code != 0 || r.stdout != want {
		t.Errorf("want %q, got %s", want, r)
	}
	r = e.run("run", "--rm", "-q", "--network", "none", "--add-host", "gw:host-gateway", busybox, "cat", "/etc/hosts")
	for _, line := range []string{"::1\tlocalhost ip6-localhost ip6-loopback", "ff02::2\tip6-allrouters", "127.0.0.1\tgw"} {
		if !strings.Contains(r.stdout, line+"\n") {
			t.Errorf("hosts lacks %q: %s", line, r)
		}
	}
}

// Exit codes and the terminal as docker's client gives them.
func TestParity_ExitCodesAndTerminal(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"a directory as the command", []string{"run", "--rm", "-q", busybox, "/etc"}, 126, ""},
		{"-it without a terminal", []string{"run", "--rm", "-q", "-it", busybox, "true"}, 1, ""},
		{"run without an image", []string{"run"}, 1, ""},
		{"-t gives CRLF as docker's pty", []string{"run", "--rm", "-q", "-t", busybox, "echo", "hi"}, 0, "hi\r\n"},
		{"-p is discarded with docker's warning", []string{"run", "--rm", "-q", "-p", "8080:80", busybox, "true"}, 0, ""},
		{"--security-opt apparmor=unconfined and label=disable", []string{"run", "--rm", "-q", "--security-opt", "apparmor=unconfined", "--security-opt", "label=disable", busybox, "true"}, 0, ""},
		{"--shm-size 0 is the default", []string{"run", "--rm", "-q", "--shm-size", "0", "--ipc", "shareable", busybox, "sh", "-c", "grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k'"}, 0, "size=65536k\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runWith(func(c *exec.Cmd) { c.Stdin = nil }, tc.args...)
			if r.code != tc.code || (tc.out != "" && r.stdout != tc.out) {
				t.Fatalf("want exit %d and %q, got %s", tc.code, tc.out, r)
			}
		})
	}
}

// --stop-signal and --stop-timeout are what stop sends and waits;
// --label is in inspect.
func TestParity_StopSignalTimeoutAndLabels(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	cid := e.cidfile("stop")
	done := make(chan result, 1)
	go func() {
		done <- e.run("run", "--rm", "-q", "--cidfile", cid, "--stop-signal", "USR1", "--stop-timeout", "30", "-l", "team=hpc", "--label", "empty",
			busybox, "sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.1; done")
	}()
	waitForInit(t, cid)
	id, _ := os.ReadFile(cid)
	if got := e.mustRun("inspect", "-f", "{{json .Config.Labels}} {{.Config.StopSignal}} {{.Config.StopTimeout}}", string(id)); got != `{"empty":"","team":"hpc"} SIGUSR1 30`+"\n" {
		t.Errorf("inspect: %q", got)
	}
	e.mustRun("stop", string(id))
	if r := <-done; r.code != 42 {
		t.Errorf("stop sends the stop signal: want the trap's 42, got %s", r)
	}
}

// waitForProcess waits until a process named comm runs in the container
// whose ID is in cid (its cgroup), and returns its host pid.
func waitForProcess(t *testing.T, cid, comm string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(cid); err == nil && len(b) == 64 {
			if cg := findCgroup("dockless-" + string(b)[:12]); cg != "" {
				procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
				for _, p := range strings.Fields(string(procs)) {
					name, _ := os.ReadFile("/proc/" + p + "/comm")
					if strings.TrimSpace(string(name)) == comm {
						var pid int
						fmt.Sscan(p, &pid)
						return pid
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s in the container", comm)
	return 0
}

// TestDocklessInit_IsTheSubreaperWhereItIsNotPID1: run as an ordinary
// process (hack/runcbats runs runc's suite under it), dockless-init gets
// the orphans of what it runs, as tini -s, and reaps them: the node's PID 1
// may reap late.
func TestDocklessInit_IsTheSubreaperWhereItIsNotPID1(t *testing.T) {
	prog := filepath.Join(filepath.Dir(binary), "dockless-init")
	dir := t.TempDir()
	script := "sh -c 'sleep 0.3 & echo $! > " + dir + "/orphan'; sleep 0.1; " +
		"awk '/^PPid:/ {print $2}' /proc/$(cat " + dir + "/orphan)/status; echo $PPID; sleep 0.5; " +
		"grep -s '^State:' /proc/$(cat " + dir + "/orphan)/status || echo reaped"
	out, err := exec.Command(prog, "--", "sh", "-c", script).Output()
	lines := strings.Fields(string(out))
	if err != nil || len(lines) != 3 || lines[0] != lines[1] || lines[2] != "reaped" {
		t.Fatalf("the orphan's parent, dockless-init's pid, and whether it was reaped: %q (%v)", out, err)
	}
}
