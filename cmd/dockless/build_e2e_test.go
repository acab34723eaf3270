package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The helpers (dockless-build, dockless-build-runc, dockless-cdi) are built once each, for
// the tests that need them, where both test binaries find them:
// ../libexec/dockless/ from their directories.
var helpers sync.Map // name: *helperBuild

type helperBuild struct {
	once sync.Once
	err  error
}

// buildLibexec builds the helper name from ../name (skipping the test
// where the tests cannot run as root).
func buildLibexec(t *testing.T, name string) {
	t.Helper()
	if suidBinary == "" {
		t.Skip("needs root and no -short")
	}
	v, _ := helpers.LoadOrStore(name, &helperBuild{})
	h := v.(*helperBuild)
	h.once.Do(func() {
		if h.err = os.MkdirAll(filepath.Dir(libexecPath(name)), 0o755); h.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", libexecPath(name), "../"+name)
		if name == "dockless-build-runc" { // C, static, as make build builds it
			cmd = exec.Command("cc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o", libexecPath(name), "../"+name+"/main.c")
		}
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		h.err = cmd.Run()
	})
	if h.err != nil {
		t.Fatalf("building %s: %v", name, h.err)
	}
}

// buildHelper builds dockless-build and, beside it, the program it runs
// RUN steps with.
func buildHelper(t *testing.T) {
	t.Helper()
	buildLibexec(t, "dockless-build")
	buildLibexec(t, "dockless-build-runc")
}

// libexecPath is where the tests' dockless finds the helper name.
func libexecPath(name string) string {
	return filepath.Join(filepath.Dir(suidRoot), "libexec", "dockless", name)
}

// helperPath is where the setuid dockless of the tests finds
// dockless-build.
func helperPath() string {
	return libexecPath("dockless-build")
}

// buildEnv is an env whose build root (beside the store) alice can reach,
// with a policy that gives alice subordinate ids from a test file (the
// node's /etc/subuid is left alone) and extra TOML.
func buildEnv(t *testing.T, extra string) *env {
	t.Helper()
	buildHelper(t)
	e := newEnv(t)
	for p := filepath.Dir(e.root); p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ids := filepath.Join(filepath.Dir(e.root), "subid")
	if err := os.WriteFile(ids, []byte(fmt.Sprintf("%s:300000:65536\n%s:400000:65536\n", alice.Name, bob.Name)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.writePolicy(buildPolicy(e, extra))
	t.Cleanup(func() {
		// This test binary's dockless-build only: another worktree's
		// tests may build or run theirs at the same time.
		if p := processesWith(helperPath() + "\x00"); len(p) != 0 {
			t.Errorf("dockless-build processes left behind: %v", p)
		}
	})
	return e
}

// buildPolicy is the policy of a buildEnv: its subordinate ids, and extra
// TOML of the [build] table.
func buildPolicy(e *env, extra string) string {
	ids := filepath.Join(filepath.Dir(e.root), "subid")
	return fmt.Sprintf("[build]\nsubuid_file = %q\nsubgid_file = %q\n%s", ids, ids, extra)
}

// twoStage is a context of alice's: a two-stage Dockerfile FROM scratch
// and busybox-static whose RUN steps record who they run as.
func twoStage(t *testing.T, u testUser) string {
	t.Helper()
	dir := userDir(t, filepath.Join(openTempDir(t), "ctx"), u, 0o755)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"busybox": string(bb),
		"Dockerfile": `FROM scratch AS base
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN id -u > /uid
FROM base
RUN cat /proc/self/uid_map > /uidmap
ARG WHO=nobody
RUN echo "$WHO" > /who
`,
		".dockerignore": "secret\n",
		"secret":        "not for the image\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBuild_AsTheCallerPushedAndRunFromAFreshStore is the issue's
// scenario: alice builds a two-stage Dockerfile through the setuid
// dockless; RUN is uid 0 inside, alice's uid (and her subordinate ids) on
// the node; --push and then dockless push send it with her credentials
// (bearer auth); the pushed image runs from a fresh store; a build FROM
// it (her private image) with -f outside the context works; bob's
// anonymous push is refused.
func TestBuild_AsTheCallerPushedAndRunFromAFreshStore(t *testing.T) {
	e := buildEnv(t, "")
	reg.SetAuth("bearer", "alice-reg", "s3cret")
	t.Cleanup(func() { reg.SetAuth("", "", "") })
	for _, u := range []testUser{alice, bob} {
		os.RemoveAll(filepath.Join(u.Home, ".docker"))
	}
	if r := e.loginAs(alice, "alice-reg", "s3cret"); r.code != 0 {
		t.Fatalf("alice logs in: %s", r)
	}
	ctx := twoStage(t, alice)
	ref := reg.Ref("private/alice/built:1")
	iid := filepath.Join(alice.Home, "iid")
	r := e.runAs(alice, ctx, nil, "build", "--progress", "plain", "-t", ref, "--push", "--build-arg", "WHO=alice", "--iidfile", iid, ".")
	if r.code != 0 {
		t.Fatalf("alice builds and pushes: %s", r)
	}
	if b, err := os.ReadFile(iid); err != nil || !strings.HasPrefix(string(b), "sha256:") {
		t.Errorf("--iidfile: %q %v", b, err)
	}
	r = e.runAs(alice, alice.Home, nil, "run", "--rm", ref, "sh", "-c", "cat /uid /uidmap /who; if test -e /secret; then echo secret; fi")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "0\n") || !strings.Contains(r.stdout, "alice\n") || strings.Contains(r.stdout, "secret") {
		t.Fatalf("the loaded image: RUN as uid 0 inside, the build arg, no ignored file: %s", r)
	}
	uidmap := strings.Fields(strings.SplitN(r.stdout, "\n", 2)[1])
	if len(uidmap) < 6 || uidmap[1] != "61001" || uidmap[4] != "300000" {
		t.Errorf("RUN's uid map: 0 is alice on the node, 1.. her subordinate ids: %q", uidmap)
	}
	if r := e.runAs(alice, alice.Home, nil, "push", ref); r.code != 0 || !strings.Contains(r.stdout, "1: digest: sha256:") {
		t.Fatalf("dockless push of the built image: %s", r)
	}

	fresh := newEnv(t)
	fresh.writePolicy("")
	if r := fresh.runAs(alice, alice.Home, nil, "run", "--rm", "-q", ref, "cat", "/uid", "/who"); r.code != 0 || r.stdout != "0\nalice\n" {
		t.Fatalf("the pushed image from a fresh store: %s", r)
	}

	e.writePolicy(buildPolicy(e, ""))
	df := filepath.Join(userDir(t, filepath.Join(openTempDir(t), "df"), alice, 0o755), "Dockerfile.derived")
	if err := os.WriteFile(df, []byte("FROM "+ref+"\nRUN cp /who /derived\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	derived := reg.Ref("private/alice/derived:1")
	if r := e.runAs(alice, ctx, nil, "build", "-q", "-f", df, "-t", derived, "."); r.code != 0 {
		t.Fatalf("FROM her private image, -f outside the context: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", derived, "cat", "/derived"); r.code != 0 || r.stdout != "alice\n" {
		t.Fatalf("the derived image: %s", r)
	}

	bobs := twoStage(t, bob)
	if r := e.runAs(bob, bobs, nil, "build", "-q", "-t", reg.Ref("private/bob/built:1"), "--push", "."); r.code != 1 || !strings.Contains(r.stderr, "failed to push") {
		t.Fatalf("bob's anonymous push: %s", r)
	}
}

// TestLSFBuild_PushesEveryTag: the docker_build application's job
// starter tags LSB_CONTAINER_IMAGE and the job's --tag, and pushes both.
func TestLSFBuild_PushesEveryTag(t *testing.T) {
	e := buildEnv(t, "")
	reg.SetAuth("bearer", "alice-reg", "s3cret")
	t.Cleanup(func() { reg.SetAuth("", "", "") })
	os.RemoveAll(filepath.Join(alice.Home, ".docker"))
	if r := e.loginAs(alice, "alice-reg", "s3cret"); r.code != 0 {
		t.Fatalf("alice logs in: %s", r)
	}
	ctx := twoStage(t, alice)
	one, latest := reg.Ref("private/alice/app:1"), reg.Ref("private/alice/app:latest")
	r := e.runAs(alice, alice.Home, []string{"LSB_CONTAINER_IMAGE=" + one}, "lsf", "build", "--", "--tag", latest, "--progress", "plain", ctx)
	if r.code != 0 {
		t.Fatalf("lsf build: %s", r)
	}
	fresh := newEnv(t)
	fresh.writePolicy("")
	for _, ref := range []string{one, latest} {
		if r := fresh.runAs(alice, alice.Home, nil, "pull", "-q", ref); r.code != 0 {
			t.Errorf("%s was pushed: %s", ref, r)
		}
	}
	if r := e.runAs(alice, alice.Home, []string{"LSB_CONTAINER_IMAGE=" + one}, "lsf", "build", "--", filepath.Join(ctx, "missing")); r.code == 0 {
		t.Errorf("a failed build is the job's failure: %s", r)
	}
}

// TestBuild_RefusalsNameTheRule: [build] enabled and network, a caller
// without subordinate ids, --ssh where the build state's path is too long
// for its socket ([build] root), and a second build of the same user
// waits [build] lock_timeout, then says so.
func TestBuild_RefusalsNameTheRule(t *testing.T) {
	e := buildEnv(t, "enabled = false\n")
	ctx := twoStage(t, alice)
	if r := e.runAs(alice, ctx, nil, "build", "."); r.code != 125 || !strings.Contains(r.stderr, "[build] enabled") {
		t.Fatalf("builds turned off: %s", r)
	}
	e.writePolicy("[build]\nsubuid_file = \"/nonexistent\"\n")
	if r := e.runAs(alice, ctx, nil, "build", "."); r.code != 125 || !strings.Contains(r.stderr, "[build] subuid_file") {
		t.Fatalf("no subordinate ids: %s", r)
	}
	e = buildEnv(t, "network = [\"none\"]\nlock_timeout = \"1s\"\n")
	if r := e.runAs(alice, ctx, nil, "build", "--network", "host", "."); r.code != 125 || !strings.Contains(r.stderr, "[build] network") {
		t.Fatalf("a network the policy does not allow: %s", r)
	}
	long := filepath.Join(openTempDir(t), strings.Repeat("r", 64))
	if err := os.Mkdir(long, 0o711); err != nil {
		t.Fatal(err)
	}
	e.writePolicy(buildPolicy(e, fmt.Sprintf("network = [\"none\"]\nroot = %q\n", long)))
	if r := e.runAs(alice, ctx, []string{"SSH_AUTH_SOCK=/nonexistent"}, "build", "--network", "none", "--ssh", "default", "."); r.code != 125 || !strings.Contains(r.stderr, "[build] root") {
		t.Fatalf("--ssh with a build state too long a path for its socket: %s", r)
	}
	e.writePolicy(buildPolicy(e, "network = [\"none\"]\nlock_timeout = \"1s\"\n"))
	root := e.root + "-build"
	if err := os.MkdirAll(root, 0o711); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(root, fmt.Sprint(alice.UID)+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if r := e.runAs(alice, ctx, nil, "build", "--network", "none", "."); r.code != 125 || !strings.Contains(r.stderr, "another build of yours") {
		t.Fatalf("a build while another holds the lock: %s", r)
	}
}

// TestBuild_StoppedOrKilledLeavesNothing: dockless build stopped with
// SIGTERM, or killed with SIGKILL (bkill), while a RUN step runs ends,
// leaving no process, mount or lock: the RUN step's processes die with the
// build's own PID namespace, the next build of the same user starts at
// once, prints its ID with -q, and one with -t is in the node store for
// dockless run.
func TestBuild_StoppedOrKilledLeavesNothing(t *testing.T) {
	e := buildEnv(t, "lock_timeout = \"1s\"\n")
	ctx := twoStage(t, alice)
	df := filepath.Join(ctx, "Dockerfile")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := os.WriteFile(df, []byte("FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sleep\", \"300\"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		stopBuildInRun(t, ctx, sig)
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mi), e.root+"-build") {
			t.Errorf("%v: a mount of the build left behind", sig)
		}
		if err := os.WriteFile(df, []byte("FROM scratch\nCOPY busybox /bin/busybox\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := e.runAs(alice, ctx, nil, "build", "-q", "."); r.code != 0 || !strings.HasPrefix(r.stdout, "sha256:") {
			t.Fatalf("%v: the next build prints its image's ID (-q, no tag): %s", sig, r)
		}
	}
	if r := e.runAs(alice, ctx, nil, "build", "-q", "-t", "dockless-test/local:1", "."); r.code != 0 {
		t.Fatalf("a build loaded into the node store: %s", r)
	}
	if r := e.runAs(alice, ctx, nil, "run", "--rm", "--pull", "never", "dockless-test/local:1", "/bin/busybox", "echo", "loaded"); r.code != 0 || r.stdout != "loaded\n" {
		t.Fatalf("dockless run uses the loaded image (never pulled): %s", r)
	}
}

// stopBuildInRun starts alice's build of ctx, sends sig to dockless once
// its RUN step runs `sleep 300`, and waits until the build, its helper and
// the RUN step's process are gone (within a minute: the kernel ends a PID
// namespace's processes once its init is gone, not at once).
func stopBuildInRun(t *testing.T, ctx string, sig syscall.Signal) {
	t.Helper()
	cmd := exec.Command(suidBinary, "build", "--progress", "plain", "--no-cache", ".")
	cmd.Dir = ctx
	cmd.SysProcAttr = asUserAttr(alice)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), `"sleep", "300"`) {
		n, err := stderr.Read(buf)
		if err != nil {
			t.Fatalf("%v: the build ended before its RUN step: %v: %s", sig, err, seen.String())
		}
		seen.Write(buf[:n])
	}
	if p := processesWith(helperPath() + "\x00"); len(p) == 0 {
		t.Errorf("the running build's dockless-build is not found at %s: the check that none is left sees nothing", helperPath())
	}
	for deadline := time.Now().Add(30 * time.Second); len(processesWith("sleep\x00300")) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%v: the RUN step's process is not found: the check that none is left sees nothing", sig)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// root sends it: after BecomeRoot, the caller cannot signal the
	// setuid dockless; LSF's bkill can.
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stderr) // until the build ends
	if err := cmd.Wait(); err == nil {
		t.Errorf("%v: a stopped build succeeded", sig)
	}
	// A SIGTERM ends the build cleanly: it says so, and BuildKit's own
	// log has nothing to add (its history is recorded before its
	// databases close).
	if sig == syscall.SIGTERM && (!strings.Contains(string(rest), "build interrupted") || strings.Contains(string(rest), "level=error")) {
		t.Errorf("%v: the build's last words:\n%s", sig, rest)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		left := append(processesWith("sleep\x00300"), processesWith(helperPath()+"\x00")...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: the build's processes left behind: %v", sig, left)
		}
	}
}
