package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/hack/testimage"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The attacks on the paths a user names, run as an ordinary user through
// the setuid build: what the container mounts, what root creates on the
// host, what the root process reveals about itself.

// lockStore takes the node-wide store lock of e, as a pull would: a
// dockless started now checks its paths and then waits for the lock.
func lockStore(t *testing.T, e *env) (unlock func()) {
	t.Helper()
	if err := os.MkdirAll(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(e.root, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// startAs starts the setuid dockless as u and returns once the process
// holds an open descriptor of opened (its check of that path is done);
// wait collects the result.
func (e *env) startAs(u testUser, dir string, environ []string, opened string, args ...string) (wait func() result) {
	e.t.Helper()
	cmd := exec.Command(suidBinary, args...)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = dir, environ, asUserAttr(u)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	collect := func(err error) result {
		r, _ := resultOf(&out, &errb, err) // a start error fails before
		return r
	}
	deadline := time.After(time.Minute)
	for !holdsOpen(cmd.Process.Pid, opened) {
		select {
		case err := <-exited:
			e.t.Fatalf("dockless exited before it opened %s: %s", opened, collect(err))
		case <-deadline:
			cmd.Process.Kill()
			e.t.Fatalf("dockless never opened %s: %s", opened, collect(<-exited))
		case <-time.After(10 * time.Millisecond):
		}
	}
	return func() result { return collect(<-exited) }
}

// holdsOpen reports whether process pid has path open.
func holdsOpen(pid int, path string) bool {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && target == path {
			return true
		}
	}
	return false
}

// The staged source is the only one a user's bind is mounted from,
// whatever the spelling of its destination: the user swaps the checked
// symlink for one to a directory they cannot reach (under a root-only
// directory, outside the allowed prefixes) after dockless checked it and
// before the container starts, and the container still sees what was
// checked. Both front ends.
func TestSuid_VolumeDestinationSpellingsMountTheCheckedDirectory(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "cat /data/marker")
	aliceDir := filepath.Join(j.storage, alice.Name)
	real := userDir(t, filepath.Join(aliceDir, "real"), alice, 0o755)
	hidden := filepath.Join(j.base, "root-only")
	if err := os.Mkdir(hidden, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(hidden, "secret")
	if err := os.Mkdir(secret, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, body := range map[string]string{real: "checked\n", secret: "root-secret\n"} {
		if err := os.WriteFile(filepath.Join(dir, "marker"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(aliceDir, "link")
	point := func(target string) {
		os.Remove(link)
		mustSymlink(t, target, link)
	}
	for _, dst := range []string{"/data", "/data/", "/data/.", "//data//", "/x/../data"} {
		for _, front := range []string{"run", "lsf"} {
			t.Run(front+" "+dst, func(t *testing.T) {
				point(real)
				unlock := lockStore(t, e)
				var wait func() result
				if front == "run" {
					wait = e.startAs(alice, aliceDir, nil, real, "run", "--rm", "-v", link+":"+dst, busybox, "cat", "/data/marker")
				} else {
					wait = e.startAs(alice, aliceDir, append(append([]string{}, j.env...), "LSF_DOCKER_VOLUMES="+link+":"+dst), real, "lsf", "run", j.jobFile)
				}
				point(secret)
				unlock()
				r := wait()
				if r.code != 0 || r.stdout != "checked\n" {
					t.Fatalf("the container must see the checked directory, not the swapped-in one: %s", r)
				}
			})
		}
	}
}

// Root creates nothing in a host directory bound into the container: a
// mount point or working directory that is missing there is made as the
// user in the user's own read-write binds, and refused in any other.
func TestSuid_NothingCreatedInHostDirectories(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "true")
	aliceDir := filepath.Join(j.storage, alice.Name)
	rootDir := filepath.Join(j.storage, "root-owned") // under the prefix, alice may not write it
	site := filepath.Join(j.base, "site")             // a forced mount of the policy
	outside := filepath.Join(j.base, "outside")       // outside the prefixes
	for _, d := range []string{rootDir, site, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.writePolicy(fmt.Sprintf("[job]\nulimits = [\"memlock=8388608\"]\nlsf_top = %q\nmounts = [%q]\n[volumes]\nallowed_prefixes = [%q]\n", j.lsfTop, site, j.storage))
	redirect, err := testimage.Busybox(testimage.Options{Extra: []testimage.File{{Name: "to-lsf", Linkname: j.lsfTop}}})
	if err != nil {
		t.Fatal(err)
	}
	redirectRef, err := reg.Push("test/redirect:"+strings.ToLower(filepath.Base(j.base)), redirect)
	if err != nil {
		t.Fatal(err)
	}
	deep := "/to-lsf/a/b/c/d/e/f/g/h"
	work := userDir(t, filepath.Join(aliceDir, "work"), alice, 0o755)
	vol := userDir(t, filepath.Join(aliceDir, "vol"), alice, 0o755)
	for _, tc := range []struct {
		name    string
		cwd     string
		env     []string
		args    []string // dockless run instead of the LSF job
		want    string   // in stderr, exit 125; "" for success
		created string   // must not exist on the host afterwards (refusals), or must be alice's (success)
	}{
		{"a volume below a working directory alice cannot write", rootDir, []string{"LSF_DOCKER_VOLUMES=" + aliceDir + ":" + rootDir + "/newdir"},
			nil, "made as dltest-alice (never as root)", filepath.Join(rootDir, "newdir")},
		{"a volume below a forced mount", aliceDir, []string{"LSF_DOCKER_VOLUMES=" + aliceDir + ":" + site + "/newdir"},
			nil, "does not exist in the site's bind of " + site, filepath.Join(site, "newdir")},
		{"a volume led into the LSF tree by an image symlink", aliceDir, []string{"LSB_CONTAINER_IMAGE=" + redirectRef, "LSF_DOCKER_VOLUMES=" + aliceDir + ":" + deep},
			nil, "does not exist in the site's bind of " + j.lsfTop, filepath.Join(j.lsfTop, "a")},
		{"a working directory outside the prefixes", outside, nil,
			nil, "[volumes] allowed_prefixes", ""},
		{"a working directory missing in a read-only volume", aliceDir, nil,
			[]string{"run", "--rm", "-v", aliceDir + ":/data:ro", "-w", "/data/newwd", busybox, "true"}, "does not exist in your bind of " + aliceDir, filepath.Join(aliceDir, "newwd")},
		{"a volume below alice's own working directory is made as alice", work, []string{"LSF_DOCKER_VOLUMES=" + vol + ":" + work + "/made-by-alice"},
			nil, "", filepath.Join(work, "made-by-alice")},
		{"a working directory missing in alice's volume is made as alice", aliceDir, nil,
			[]string{"run", "--rm", "-v", aliceDir + ":/data", "-w", "/data/wd-by-alice", busybox, "pwd"}, "", filepath.Join(aliceDir, "wd-by-alice")},
		{"a working directory outside the prefixes with LSF_DOCKER_WORKDIR is not bound", outside, []string{"LSF_DOCKER_WORKDIR=/"},
			nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			if tc.args != nil {
				r = e.runAs(alice, tc.cwd, nil, tc.args...)
			} else {
				r = e.runAs(alice, tc.cwd, append(append([]string{}, j.env...), tc.env...), "lsf", "run", "true")
			}
			if tc.want != "" {
				if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
					t.Fatalf("want exit 125 naming %q, got %s", tc.want, r)
				}
				if tc.created != "" {
					if _, err := os.Lstat(tc.created); err == nil {
						t.Fatalf("%s was created on the host", tc.created)
					}
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("want success, got %s", r)
			}
			if tc.created != "" {
				st, err := os.Lstat(tc.created)
				if err != nil || st.Sys().(*syscall.Stat_t).Uid != alice.UID {
					t.Fatalf("%s must be made as alice: %v %+v", tc.created, err, st)
				}
			}
		})
	}
}

// Paths a user names are opened by a thread of the root process: /proc's
// magic links are never followed and the kernel's filesystems are refused,
// so the root process's maps, environment, descriptors and root, and the
// host's /proc, stay out of reach.
func TestSuid_KernelPathsAreRefused(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "true")
	e.writePolicy(fmt.Sprintf("[job]\nulimits = [\"memlock=8388608\"]\nlsf_top = %q\n[volumes]\nallowed_prefixes = []\ndirectories_only = false\n", j.lsfTop))
	aliceDir := filepath.Join(j.storage, alice.Name)
	address := regexp.MustCompile(`[0-9a-f]{8,}-[0-9a-f]{8,}`)
	for _, tc := range []struct {
		name string
		cwd  string
		env  []string
		args []string // dockless run instead of the LSF job
		want string
	}{
		{"LSF_DOCKER_ENV_FILE=/proc/self/maps", aliceDir, []string{"LSF_DOCKER_ENV_FILE=/proc/self/maps"}, nil, "is on procfs"},
		{"--env-file /proc/self/environ", aliceDir, nil, []string{"run", "--rm", "--env-file", "/proc/self/environ", busybox, "true"}, "is on procfs"},
		{"--env-file /proc/self/maps", aliceDir, nil, []string{"run", "--rm", "--env-file", "/proc/self/maps", busybox, "true"}, "is on procfs"},
		{"a seccomp profile from /proc/self/maps", aliceDir, nil, []string{"run", "--rm", "--security-opt", "seccomp=/proc/self/maps", busybox, "true"}, "is on procfs"},
		{"-v /proc/self/root", aliceDir, nil, []string{"run", "--rm", "-v", "/proc/self/root:/host", busybox, "true"}, "magic link"},
		{"-v /proc/self/fd/N", aliceDir, nil, []string{"run", "--rm", "-v", "/proc/self/fd/0:/x", busybox, "true"}, "magic link"},
		{"-v /proc/self", aliceDir, nil, []string{"run", "--rm", "-v", "/proc/self:/x", busybox, "true"}, "is on procfs"},
		{"-v /sys/kernel", aliceDir, nil, []string{"run", "--rm", "-v", "/sys/kernel:/x", busybox, "true"}, "is on sysfs"},
		{"LSF_DOCKER_VOLUMES=/proc/self/cwd", aliceDir, []string{"LSF_DOCKER_VOLUMES=/proc/self/cwd:/x"}, nil, "magic link"},
		{"a working directory of /proc", "/proc", nil, nil, "is on procfs"},
		{"a working directory of /sys", "/sys", nil, nil, "is on sysfs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			if tc.args != nil {
				r = e.runAs(alice, tc.cwd, nil, tc.args...)
			} else {
				r = e.runAs(alice, tc.cwd, append(append([]string{}, j.env...), tc.env...), "lsf", "run", "true")
			}
			if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit 125 naming %q, got %s", tc.want, r)
			}
			if address.MatchString(r.stderr) || strings.Contains(r.stderr, e.root) {
				t.Fatalf("the refusal reveals the root process: %s", r)
			}
		})
	}
}

// A working directory below a host bind is entered through a link in the
// container's own rootfs, so that libcontainer's init, which makes a
// missing working directory as root by path, makes nothing when the user
// swaps a directory on that path for a symlink after dockless checked it.
func TestSuid_WorkdirBelowABindIsEnteredThroughALink(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "true")
	e.writePolicy(fmt.Sprintf("[volumes]\nallowed_prefixes = [%q]\n", j.storage))
	aliceDir := filepath.Join(j.storage, alice.Name)
	userDir(t, filepath.Join(aliceDir, "sub"), alice, 0o755)
	r := e.runAs(alice, aliceDir, nil, "run", "--rm", "-v", aliceDir+":/data", "-w", "/data/sub", busybox,
		"sh", "-c", "pwd; readlink /proc/self/cwd; readlink /.dockless-workdir")
	if r.code != 0 || r.stdout != "/data/sub\n/data/sub\n/data/sub\n" {
		t.Fatalf("want the process in /data/sub, entered through the link: %s", r)
	}
}

// The link's property, through the runtime alone: when what it names is
// gone, the init fails on the link and makes nothing where it points.
func TestOCI_WorkdirLinkMakesNothingWhereItPoints(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		wantCode     int
		mustNotExist string // below the bound host directory
	}{
		{"an existing directory is entered", "/rw", 0, ""},
		{"a missing one fails, nothing made", "/rw/made/by/root", 1, "made"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOCIEnv(t)
			host := t.TempDir()
			bundle, _ := e.ociBundle(func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/rw", Type: "bind", Source: host, Options: []string{"rbind", "rw"}})
				s.Process.Cwd = container.WorkdirLink
				s.Process.Args = []string{"sh", "-c", "pwd"}
			})
			if err := os.Symlink(tc.target, filepath.Join(bundle, "rootfs", container.WorkdirLink)); err != nil {
				t.Fatal(err)
			}
			r := e.oci("run", "--bundle", bundle, "wd")
			if (r.code == 0) != (tc.wantCode == 0) {
				t.Fatalf("want exit %d: %s", tc.wantCode, r)
			}
			if tc.wantCode == 0 && r.stdout != tc.target+"\n" {
				t.Fatalf("want the process in %s: %s", tc.target, r)
			}
			if tc.mustNotExist != "" {
				if _, err := os.Lstat(filepath.Join(host, tc.mustNotExist)); err == nil {
					t.Fatalf("root made %s in the host directory", tc.mustNotExist)
				}
			}
			e.oci("delete", "--force", "wd")
		})
	}
}

// TestSuid_JobSpoolDirectoryIsTheUsersOrUnderAPrefix: the directory of the
// job file is bound read-write at its own path; a job file anywhere would
// bind any directory the user can read, past [volumes] allowed_prefixes.
func TestSuid_JobSpoolDirectoryIsTheUsersOrUnderAPrefix(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "echo spooled")
	cwd := filepath.Join(j.storage, alice.Name)
	outside := filepath.Join(j.base, "outside", "proj") // root's, readable by alice, outside the prefix
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	job, err := os.ReadFile(j.jobFile)
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(j.storage, "shared-spool") // root's, under the prefix
	for _, d := range []string{outside, shared} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "job.sh"), job, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, jobFile, want string
	}{
		{"alice's own spool", j.jobFile, ""},
		{"a directory under the prefix", filepath.Join(shared, "job.sh"), ""},
		{"root's directory outside the prefixes", filepath.Join(outside, "job.sh"), "job spool directory " + outside + ": owned by uid 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runAs(alice, cwd, j.env, "lsf", "run", tc.jobFile)
			if tc.want == "" {
				if r.code != 0 || r.stdout != "spooled\n" {
					t.Fatalf("want the job to run: %s", r)
				}
				return
			}
			if r.code != 125 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "[volumes] allowed_prefixes") {
				t.Fatalf("want exit 125 naming %q and the rule: %s", tc.want, r)
			}
		})
	}
}
