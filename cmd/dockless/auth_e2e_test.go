package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/dockless/dockless/hack/testimage"
)

// TestImages_PrivateImagesStayPrivate: alice logs in and pulls a private
// image; bob, without credentials, is refused although it is cached; alice
// runs it again from the cache after a manifest HEAD (no blob download).
func TestImages_PrivateImagesStayPrivate(t *testing.T) {
	for _, mode := range []string{"bearer", "basic"} {
		t.Run(mode, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				e.writePolicy("")
				img, err := testimage.Busybox(testimage.Options{Env: []string{"SECRET=" + mode}})
				if err != nil {
					t.Fatal(err)
				}
				ref, err := reg.Push("private/secret:"+mode, img)
				if err != nil {
					t.Fatal(err)
				}
				reg.SetAuth(mode, "alice-reg", "s3cret")
				t.Cleanup(func() { reg.SetAuth("", "", "") })
				for _, u := range []testUser{alice, bob} {
					os.RemoveAll(filepath.Join(u.Home, ".docker"))
				}

				if r := e.runAs(bob, bob.Home, nil, "pull", ref); r.code != 125 || !strings.Contains(r.stderr, "does not let you pull") {
					t.Fatalf("bob pulls without credentials: %s", r)
				}
				if r := e.loginAs(alice, "alice-reg", "wrong"); r.code != 125 || !strings.Contains(r.stderr, "incorrect username or password") {
					t.Fatalf("a wrong password: %s", r)
				}
				if r := e.loginAs(alice, "alice-reg", "s3cret"); r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") || !strings.Contains(r.stderr, "unencrypted") {
					t.Fatalf("alice logs in: %s", r)
				}
				cfg := filepath.Join(alice.Home, ".docker", "config.json")
				st, err := os.Stat(cfg)
				if err != nil || st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != alice.UID {
					t.Fatalf("alice's config.json is hers and private: %v %v", st, err)
				}
				if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", ref, "sh", "-c", "echo $SECRET"); r.code != 0 || r.stdout != mode+"\n" {
					t.Fatalf("alice runs her private image: %s", r)
				}
				if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", ref, "true"); r.code != 125 || !strings.Contains(r.stderr, "cached image") {
					t.Fatalf("bob runs alice's cached private image: %s", r)
				}
				before := sum(reg.BlobGets("private/secret"))
				if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", ref, "true"); r.code != 0 {
					t.Fatalf("alice again, from the cache: %s", r)
				}
				if after := sum(reg.BlobGets("private/secret")); after != before {
					t.Errorf("a cache hit downloads nothing (blob GETs %d -> %d)", before, after)
				}
				if r := e.runAs(alice, alice.Home, nil, "logout", reg.Addr); r.code != 0 {
					t.Fatalf("logout: %s", r)
				}
				if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", ref, "true"); r.code != 125 {
					t.Fatalf("after logout the cached private image is refused: %s", r)
				}
			})
		})
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// loginAs runs `dockless login --password-stdin` as u.
func (e *env) loginAs(u testUser, user, pass string) result {
	e.t.Helper()
	cmd := exec.Command(suidBinary, "login", "-u", user, "--password-stdin", reg.Addr)
	cmd.Dir = u.Home
	cmd.Stdin = strings.NewReader(pass + "\n")
	cmd.SysProcAttr = asUserAttr(u)
	return runCmd(e.t, cmd)
}

// TestImages_CredentialHelperRunsAsTheCaller: credHelpers in the caller's
// config name a docker-credential-* helper, which runs as the caller, under
// the caller's own resource limits (not those the setuid entry lifted).
func TestImages_CredentialHelperRunsAsTheCaller(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	img, err := testimage.Busybox(testimage.Options{Env: []string{"HELPER=1"}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push("private/helper:1", img)
	if err != nil {
		t.Fatal(err)
	}
	reg.SetAuth("bearer", "alice-reg", "s3cret")
	t.Cleanup(func() { reg.SetAuth("", "", "") })
	helper := "/usr/local/bin/docker-credential-dltest"
	log := filepath.Join(openTempDir(t), "helper.log")
	if err := os.WriteFile(log, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(log, 0o666); err != nil { // past the umask: the helper runs as alice
		t.Fatal(err)
	}
	script := "#!/bin/sh\nread server\nid -u >> " + log + "\ngrep -E '^Max (cpu time|open files)' /proc/self/limits >> " + log + "\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"alice-reg\",\"Secret\":\"s3cret\"}'\n"
	if err := os.WriteFile(helper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(helper) })
	cfg := filepath.Join(alice.Home, ".docker", "config.json")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(`{"credHelpers":{"`+reg.Addr+`":"dltest"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Dir(cfg), cfg} {
		if err := os.Chown(p, int(alice.UID), int(alice.GID)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(cfg)) })
	cmd := exec.Command("prlimit", "--cpu=100:200", "--nofile=64:128", "--", suidBinary, "run", "--rm", "-q", ref, "sh", "-c", "echo $HELPER")
	cmd.Dir, cmd.SysProcAttr = alice.Home, asUserAttr(alice)
	if r := runCmd(t, cmd); r.code != 0 || r.stdout != "1\n" {
		t.Fatalf("a pull with the helper's credentials: %s", r)
	}
	b, _ := os.ReadFile(log)
	if !strings.HasPrefix(string(b), "61001\n") {
		t.Fatalf("the helper ran as uid %q, want alice's 61001", b)
	}
	for _, want := range []*regexp.Regexp{regexp.MustCompile(`Max cpu time\s+100\s+200\s`), regexp.MustCompile(`Max open files\s+64\s+128\s`)} {
		if !want.Match(b) {
			t.Errorf("the helper ran without alice's limits (%s):\n%s", want, b)
		}
	}
}
