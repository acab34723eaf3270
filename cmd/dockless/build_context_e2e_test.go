package main

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// contextServer serves, from 127.0.0.1, git repositories under /git/ (git
// http-backend, git's smart HTTP protocol) and files under /files/, and
// records the node uid of the process at the other end of each
// connection (the owner of its socket in /proc/net/tcp).
type contextServer struct {
	*httptest.Server
	mu   sync.Mutex
	uids map[uint32]bool
}

func newContextServer(t *testing.T, repos, files string) *contextServer {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/git/", &cgi.Handler{Path: "/usr/lib/git-core/git-http-backend", Root: "/git",
		Env: []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"}})
	mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(files))))
	s := &contextServer{uids: map[uint32]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.uids[socketOwner(t, r.RemoteAddr, r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())] = true
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// fetchers are the node uids that fetched from the server.
func (s *contextServer) fetchers() map[uint32]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uids
}

// socketOwner is the uid owning the client's end, at addr, of a loopback
// connection to server, from /proc/net/tcp: the established socket whose
// local address is addr and whose remote one is server (an older socket
// in TIME_WAIT on the same port belongs to no one: uid 0).
func socketOwner(t *testing.T, addr, server string) uint32 {
	hex := func(a string) string {
		_, port, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(port)
		return fmt.Sprintf("0100007F:%04X", p)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Error(err)
		return 0
	}
	local, remote := hex(addr), hex(server)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 7 && f[1] == local && f[2] == remote && f[3] == "01" {
			uid, _ := strconv.ParseUint(f[7], 10, 32)
			return uint32(uid)
		}
	}
	t.Errorf("no socket at %s in /proc/net/tcp", addr)
	return 0
}

// gitRepo makes the bare repository dir/repo.git: on master, app/marker
// is "master"; on branch v1, "v1"; in app/ an executable busybox; beside
// app/ a file the subdirectory context leaves out.
func gitRepo(t *testing.T, dir string) {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example", "-c", "init.defaultBranch=master"}, args...)...)
		cmd.Dir = work
		cmd.Env = []string{"HOME=" + work, "GIT_CONFIG_NOSYSTEM=1", "PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app/busybox", string(bb))
	// Executable: an image of the context runs it.
	if err := os.Chmod(filepath.Join(work, "app/busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("app/Dockerfile", "FROM scratch\nCOPY . /ctx/\n")
	write("app/Dockerfile.alt", "FROM scratch\nCOPY marker /alt/\n")
	write("app/marker", "master\n")
	write("outside", "not in app/\n")
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "master")
	git("checkout", "-q", "-b", "v1")
	write("app/marker", "v1\n")
	git("commit", "-q", "-am", "v1")
	git("checkout", "-q", "master")
	git("clone", "-q", "--bare", work, filepath.Join(dir, "repo.git"))
}

// tarball writes a gzipped tar of a context: a Dockerfile and a marker.
func tarball(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{"Dockerfile": "FROM scratch\nCOPY marker /ctx/marker\n", "marker": "tarball\n"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBuild_ContextURLsFetchedAsTheCaller: alice builds from a git URL
// (#ref:subdir) and a tarball URL served on 127.0.0.1; every fetch comes
// from a process of hers, never root's; the image holds the ref's
// subdirectory only; -f names a Dockerfile of the fetched context, as
// docker's; [registry] http_proxy carries the fetches. [build]
// allowed_context_hosts and an offline
// [build] network refuse a URL, naming the rule.
func TestBuild_ContextURLsFetchedAsTheCaller(t *testing.T) {
	e := buildEnv(t, "")
	repos, files := t.TempDir(), t.TempDir()
	gitRepo(t, repos)
	tarball(t, filepath.Join(files, "ctx.tar.gz"))
	srv := newContextServer(t, repos, files)
	for _, c := range []struct {
		name, url, want string
		files           []string
	}{
		{"git, a branch and a subdirectory", srv.URL + "/git/repo.git#v1:app", "v1\n", []string{"Dockerfile", "Dockerfile.alt", "busybox", "marker"}},
		{"git, the default branch", srv.URL + "/git/repo.git#:app", "master\n", []string{"Dockerfile", "Dockerfile.alt", "busybox", "marker"}},
		{"a tarball", srv.URL + "/files/ctx.tar.gz", "tarball\n", []string{"marker"}},
	} {
		out := filepath.Join(userDir(t, filepath.Join(openTempDir(t), "out"), alice, 0o755), "rootfs")
		r := e.runAs(alice, alice.Home, nil, "build", "--progress", "plain", "-o", "type=local,dest="+out, c.url)
		if r.code != 0 {
			t.Fatalf("%s: %s", c.name, r)
		}
		if b, err := os.ReadFile(filepath.Join(out, "ctx", "marker")); err != nil || string(b) != c.want {
			t.Errorf("%s: marker %q %v, want %q", c.name, b, err, c.want)
		}
		entries, _ := os.ReadDir(filepath.Join(out, "ctx"))
		var got []string
		for _, en := range entries {
			got = append(got, en.Name())
		}
		if strings.Join(got, " ") != strings.Join(c.files, " ") {
			t.Errorf("%s: the context holds %v, want %v", c.name, got, c.files)
		}
	}
	alt := userDir(t, filepath.Join(openTempDir(t), "alt"), alice, 0o755)
	if r := e.runAs(alice, alice.Home, nil, "build", "-q", "-f", "Dockerfile.alt", "-o", "type=local,dest="+alt, srv.URL+"/git/repo.git#v1:app"); r.code != 0 {
		t.Errorf("-f names a Dockerfile of the URL's context: %s", r)
	} else if b, err := os.ReadFile(filepath.Join(alt, "alt", "marker")); err != nil || string(b) != "v1\n" {
		t.Errorf("-f Dockerfile.alt of the URL's context: %q %v", b, err)
	}
	// Through the site's proxy ([registry] http_proxy): context.invalid
	// resolves nowhere, the proxy (the same server) serves it.
	e.writePolicy(buildPolicy(e, fmt.Sprintf("\n[registry]\nhttp_proxy = %q\n", srv.URL)))
	for _, url := range []string{"http://context.invalid/files/ctx.tar.gz", "http://context.invalid/git/repo.git#v1:app"} {
		if r := e.runAs(alice, alice.Home, nil, "build", "-q", url); r.code != 0 {
			t.Errorf("%s through [registry] http_proxy: %s", url, r)
		}
	}
	if f := srv.fetchers(); len(f) != 1 || !f[alice.UID] {
		t.Errorf("the contexts were fetched by uids %v, want alice's (%d) alone", f, alice.UID)
	}

	e.writePolicy(buildPolicy(e, "allowed_context_hosts = [\"git.example\"]\n"))
	if r := e.runAs(alice, alice.Home, nil, "build", srv.URL+"/git/repo.git#v1:app"); r.code != 125 || !strings.Contains(r.stderr, "[build] allowed_context_hosts") {
		t.Errorf("a host outside [build] allowed_context_hosts: %s", r)
	}
	e.writePolicy(buildPolicy(e, "network = [\"none\"]\n"))
	if r := e.runAs(alice, alice.Home, nil, "build", "--network", "none", srv.URL+"/files/ctx.tar.gz"); r.code != 125 || !strings.Contains(r.stderr, "[build] network") {
		t.Errorf("a URL where builds do not reach the network: %s", r)
	}
}
