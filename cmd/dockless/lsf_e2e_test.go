package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dockless/dockless/lsf"
)

// lsfJobFixture is a simulated LSF job on this node: a job file in the user's
// spool, a job tmpdir, the allowed storage prefix and the job environment.
type lsfJobFixture struct {
	base, storage, tmpdir, spool, jobFile, lsfTop string
	env                                           []string
}

const testJobID = "23870"

func newLSFJob(t *testing.T, e *env, u testUser, script string) *lsfJobFixture {
	t.Helper()
	base := openTempDir(t)
	j := &lsfJobFixture{base: base, storage: filepath.Join(base, "storage1"), lsfTop: filepath.Join(base, "lsf")}
	for _, d := range []string{j.storage, j.lsfTop, filepath.Join(j.lsfTop, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	userDir(t, filepath.Join(j.storage, u.Name), u, 0o755)
	j.tmpdir = userDir(t, filepath.Join(base, "lsbtmp", testJobID+".tmpdir"), u, 0o700)
	j.spool = userDir(t, filepath.Join(u.Home, ".lsbatch"), u, 0o700)
	j.jobFile = filepath.Join(j.spool, "1580953421."+testJobID)
	if err := os.WriteFile(j.jobFile, []byte("#!/bin/sh\n"+script+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(j.jobFile, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	e.writePolicy(fmt.Sprintf("[job]\nulimits = [\"memlock=8388608\"]\nlsf_top = %q\n[volumes]\nallowed_prefixes = [%q]\n", j.lsfTop, j.storage))
	j.env = []string{
		"HOME=" + u.Home, "USER=" + u.Name, "PATH=/host/only/bin:/usr/bin:/bin",
		"LSB_JOBID=" + testJobID, "LSB_JOBINDEX=0", "LSB_QUEUE=general",
		"LSB_CONTAINER_IMAGE=" + busybox, "TMPDIR=" + j.tmpdir, "LSF_BINDIR=" + filepath.Join(j.lsfTop, "bin"),
		"LSB_INTERACTIVE=Y", "BASH_FUNC_evil%%=() { echo pwned; }", "MULTILINE=a\nb",
	}
	return j
}

// run runs the job as u with extra environment.
func (j *lsfJobFixture) run(e *env, u testUser, extra ...string) result {
	e.t.Helper()
	return e.runAs(u, u.Home, append(append([]string{}, j.env...), extra...), "lsf", "run", j.jobFile)
}

func TestLSFJob_TheSeedContainer(t *testing.T) {
	e := newEnv(t)
	script := `id; whoami; hostname; pwd
grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status
cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares
ulimit -l
echo "PATH=$PATH"; echo "HOSTNAME=$HOSTNAME"; echo "NIOS=$LSF_NIOS_JOBSTATUS_INTERVAL"
echo "INTERACTIVE=${LSB_INTERACTIVE:-unset} MULTILINE=${MULTILINE:-unset}"
env | grep -c BASH_FUNC || true
echo from-job > /tmp/out; cat $TMPDIR/out
ls -d $HOME/.lsbatch >/dev/null && echo home-mounted
grep ' /etc/passwd ' /proc/self/mountinfo | grep -q ' ro,' && echo passwd-read-only
exit 3`
	j := newLSFJob(t, e, alice, script)
	r := j.run(e, alice)
	if r.code != 3 {
		t.Fatalf("the job's exit status: %s", r)
	}
	host, _ := os.Hostname()
	want := []string{
		"uid=61001(dltest-alice) gid=61001(dltest-alice) groups=61001(dltest-alice),61010(dltest-lab)",
		"dltest-alice", host, alice.Home,
		"CapEff:\t0000000000000000", "CapBnd:\t0000000000804121", "NoNewPrivs:\t1", "Seccomp:\t2",
		"4294967296", "2", "8192",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + filepath.Join(j.lsfTop, "bin"),
		"HOSTNAME=" + host, "NIOS=1", "INTERACTIVE=unset MULTILINE=unset", "0",
		"from-job", "home-mounted", "passwd-read-only",
	}
	got := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(got) != len(want) {
		t.Fatalf("job output:\n%s\nstderr: %s", r.stdout, r.stderr)
	}
	for i := range want {
		if strings.TrimSpace(got[i]) != want[i] {
			t.Errorf("line %d: want %q, got %q", i, want[i], got[i])
		}
	}
	if b, err := os.ReadFile(filepath.Join(j.tmpdir, "out")); err != nil || string(b) != "from-job\n" {
		t.Errorf("/tmp is the job tmpdir on the host: %q %v", b, err)
	}
}

func TestLSFJob_VolumesAndWrapperVariables(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, `cat /data/in; echo out > /data/out; cat /etc/hosts | grep -c dbhost; echo $FROM_FILE; pwd; df -k /dev/shm | tail -1 | awk '{print $2}'`)
	data := filepath.Join(j.storage, alice.Name)
	if err := os.WriteFile(filepath.Join(data, "in"), []byte("in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(data, "job.env")
	hostFile := filepath.Join(data, "hosts")
	for p, body := range map[string]string{envFile: "FROM_FILE=file\n", hostFile: "dbhost2:10.0.0.2\n"} {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, int(alice.UID), int(alice.GID)); err != nil {
			t.Fatal(err)
		}
	}
	r := j.run(e, alice, "LSF_DOCKER_VOLUMES="+data+":/data", "LSF_DOCKER_ENV_FILE="+envFile,
		"LSF_DOCKER_ADD_HOST=dbhost:10.0.0.1", "LSF_DOCKER_ADD_HOST_FILE="+hostFile,
		"LSF_DOCKER_WORKDIR=/data", "LSF_DOCKER_SHM_SIZE=32m", "LSF_DOCKER_IPC=private", "LSF_DOCKER_NETWORK=none")
	if r.code != 0 || r.stdout != "in\n2\nfile\n/data\n32768\n" {
		t.Fatalf("volumes and wrapper variables: %s", r)
	}
	st, err := os.Stat(filepath.Join(data, "out"))
	if err != nil || st.Sys().(interface{}) == nil {
		t.Fatalf("written through the volume: %v", err)
	}
}

func TestLSFJob_PlaceHolderRunsTheImageCommand(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "true")
	r := e.runAs(alice, alice.Home, j.env, "lsf", "run", lsf.PlaceHolder)
	if r.code != 0 || r.stdout != "" {
		// the image's CMD is an interactive sh: with no input it exits 0
		t.Fatalf("placeholder: %s", r)
	}
	r = e.runAs(alice, alice.Home, append(j.env, "LSF_DOCKER_RUN_RAW_ARGS=1"), "lsf", "run", "echo", "raw")
	if r.code != 0 || r.stdout != "raw\n" {
		t.Fatalf("raw args: %s", r)
	}
}

func TestLSFJob_SpecPrintsConfigAndStartsNothing(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "true")
	r := e.runAs(alice, alice.Home, j.env, "lsf", "spec", j.jobFile)
	if r.code != 0 || !strings.Contains(r.stdout, `"ociVersion"`) || !strings.Contains(r.stdout, `"/bin/sh"`) {
		t.Fatalf("lsf spec: %s", r)
	}
	r = e.runAs(alice, alice.Home, append(j.env, "LSF_DOCKER_RUN_LOGLEVEL=DEBUG"), "lsf", "run", j.jobFile)
	if r.code != 0 || !strings.Contains(r.stderr, "DEBUG: equivalent docker command: docker run") || !strings.Contains(r.stderr, "--cap-drop=all") {
		t.Fatalf("DEBUG logs the equivalent docker command: %s", r)
	}
}

// The attacks of the trust model: each is refused with the rule, exit 125,
// and nothing is mounted (assertClean).
func TestLSFJob_AttacksAreRefused(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "true")
	bobPrivate := userDir(t, filepath.Join(j.storage, "bob-private"), bob, 0o700)
	userDir(t, filepath.Join(bobPrivate, "secret"), bob, 0o755)
	aliceDir := filepath.Join(j.storage, alice.Name)
	mustSymlink(t, "/etc", filepath.Join(aliceDir, "to-etc"))
	mustSymlink(t, filepath.Join(bobPrivate, "secret"), filepath.Join(aliceDir, "to-bob"))
	if err := os.WriteFile(filepath.Join(aliceDir, "file.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	evil := j.storage + "evil"
	if err := os.MkdirAll(filepath.Join(evil, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	bobTmp := userDir(t, filepath.Join(j.base, "lsbtmp2", testJobID+".tmpdir"), bob, 0o755)
	for _, tc := range []struct {
		name  string
		extra []string
		code  int
		want  string
	}{
		{"volume symlink to /etc", []string{"LSF_DOCKER_VOLUMES=" + aliceDir + "/to-etc:/data"}, 125, "not under an allowed prefix"},
		{"volume symlink into another user's 0700 directory", []string{"LSF_DOCKER_VOLUMES=" + aliceDir + "/to-bob:/data"}, 125, "permission denied"},
		{"another user's 0700 directory", []string{"LSF_DOCKER_VOLUMES=" + bobPrivate + ":/data"}, 125, "permission denied"},
		{"dot-dot out of the prefix", []string{"LSF_DOCKER_VOLUMES=" + aliceDir + strings.Repeat("/..", strings.Count(aliceDir, "/")) + "/etc:/data"}, 125, "not under an allowed prefix"},
		{"file bind", []string{"LSF_DOCKER_VOLUMES=" + aliceDir + "/file.txt:/data"}, 125, "directories_only"},
		{"prefix lookalike", []string{"LSF_DOCKER_VOLUMES=" + evil + "/x:/data"}, 125, "not under an allowed prefix"},
		{"job tmpdir owned by someone else", []string{"TMPDIR=" + bobTmp}, 125, "owned by uid 61002"},
		{"cgroup parent from an untrusted user", []string{"LSF_DOCKER_CGROUP=/"}, 125, "[callers] trusted"},
		{"ports with the host network", []string{"LSF_DOCKER_PORTS=8001:80"}, 125, "host network"},
		{"ports outside 8000-8999", []string{"LSF_DOCKER_PORTS=22:22"}, 125, "outside 8000-8999"},
		{"env file of another user", []string{"LSF_DOCKER_ENV_FILE=" + bobPrivate + "/secret/env"}, 125, "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := j.run(e, alice, tc.extra...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit %d naming %q, got %s", tc.code, tc.want, r)
			}
		})
	}
	r := e.runAs(alice, alice.Home, j.env, "lsf", "run", filepath.Join(j.spool, "no-such-job"))
	if r.code != 127 {
		t.Errorf("a missing job file exits 127: %s", r)
	}
}

func TestRun_AsAnOrdinaryUser(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "true")
	data := filepath.Join(j.storage, alice.Name)
	out := e.runAs(alice, alice.Home, nil, "run", "--rm", "-v", data+":/data", busybox, "sh", "-c", "id -u; touch /data/mine")
	if out.code != 0 || out.stdout != "61001\n" {
		t.Fatalf("a user's container runs as the user: %s", out)
	}
	if st, err := os.Stat(filepath.Join(data, "mine")); err != nil || st.Sys().(*syscall.Stat_t).Uid != alice.UID {
		t.Errorf("files written as the user: %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"root in the container", []string{"run", "--rm", "-u", "0", busybox, "true"}, "[job] allow_root"},
		{"another uid", []string{"run", "--rm", "-u", "61002", busybox, "true"}, "containers run as their caller"},
		{"a group that is not theirs", []string{"run", "--rm", "--group-add", "0", busybox, "true"}, "only your own groups"},
		{"extra capability", []string{"run", "--rm", "--cap-add", "SYS_ADMIN", busybox, "true"}, "[job] capabilities"},
		{"a device", []string{"run", "--rm", "--device", "/dev/mem", busybox, "true"}, "[job] devices"},
		{"seccomp off", []string{"run", "--rm", "--security-opt", "seccomp=unconfined", busybox, "true"}, "trust model"},
		{"a volume outside the prefixes", []string{"run", "--rm", "-v", "/etc:/x", busybox, "true"}, "not under an allowed prefix"},
		{"another policy", []string{"--policy", "/tmp/mine.toml", "run", busybox, "true"}, "only root"},
		{"another store", []string{"--root", "/tmp/mystore", "images"}, "only root"},
		{"removing a shared image", []string{"rmi", busybox}, "[callers] trusted"},
		{"pruning the shared store", []string{"image", "prune", "-a"}, "[callers] trusted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runAs(alice, alice.Home, nil, tc.args...)
			if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want 125 naming %q, got %s", tc.want, r)
			}
		})
	}
}

func TestPolicy_UnsafeFilesAreRefused(t *testing.T) {
	e := newEnv(t)
	dir := openTempDir(t)
	for _, tc := range []struct {
		name string
		mode os.FileMode
		uid  int
		want string
	}{
		{"writable by others", 0o666, 0, "writable by group or others"},
		{"owned by a user", 0o644, int(alice.UID), "must be owned by root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".toml")
			if err := os.WriteFile(p, []byte("[job]\nallow_root = true\n"), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(p, tc.uid, 0); err != nil {
				t.Fatal(err)
			}
			r := e.run("--policy", p, "images")
			if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want refusal naming %q, got %s", tc.want, r)
			}
		})
	}
	p := filepath.Join(dir, "typo.toml")
	if err := os.WriteFile(p, []byte("[job]\nallow_rot = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.run("--policy", p, "images"); r.code != 125 || !strings.Contains(r.stderr, "allow_rot") {
		t.Fatalf("an unknown key is named: %s", r)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestLSFJob_AmbientCapabilitiesPolicy(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "grep -E '^Cap(Eff|Amb):' /proc/self/status")
	e.writePolicy(fmt.Sprintf("[job]\nulimits = [\"memlock=8388608\"]\nambient_capabilities = true\ni_understand_ambient_capabilities_give_host_privileges = true\nlsf_top = %q\n[volumes]\nallowed_prefixes = [%q]\n", j.lsfTop, j.storage))
	r := j.run(e, alice)
	if r.code != 0 || r.stdout != "CapEff:\t0000000000804121\nCapAmb:\t0000000000804121\n" {
		t.Fatalf("ambient_capabilities = true makes the policy's capabilities effective for the job user: %s", r)
	}
}
