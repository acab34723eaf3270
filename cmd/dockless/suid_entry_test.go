package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	endian "encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The setuid entry: what a user hands the setuid binary before dockless
// has looked at them (argv, the environment, descriptors) and what the
// process does with the credentials it gets.

// refusedInit is the start of the setuid entry's refusal of libcontainer's
// init (runtime/secure.c).
const refusedInit = "dockless: refused: libcontainer's init"

// initPipes are descriptors a user hands the setuid binary in the places
// libcontainer's parent puts its init pipe (fd 3), sync pipe (fd 4) and log
// pipe (fd 5), with the variables that name them.
type initPipes struct {
	initParent, syncParent *os.File // the test's ends of the socketpairs
	logRead                *os.File
	child                  []*os.File // fds 3, 4, 5 of the child
}

func newInitPipes(t *testing.T) *initPipes {
	t.Helper()
	p := &initPipes{}
	for _, parent := range []**os.File{&p.initParent, &p.syncParent} {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		*parent = os.NewFile(uintptr(fds[0]), "parent")
		p.child = append(p.child, os.NewFile(uintptr(fds[1]), "child"))
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.logRead, p.child = r, append(p.child, w)
	t.Cleanup(func() {
		for _, f := range append([]*os.File{p.initParent, p.syncParent, p.logRead}, p.child...) {
			f.Close()
		}
	})
	return p
}

// env is libcontainer's view of the pipes (debug log level: nsexec logs
// its first step to the log pipe).
func (p *initPipes) env() []string {
	return []string{"_LIBCONTAINER_INITPIPE=3", "_LIBCONTAINER_SYNCPIPE=4", "_LIBCONTAINER_LOGPIPE=5",
		"_LIBCONTAINER_LOGLEVEL=5", "_LIBCONTAINER_INITTYPE=standard"}
}

// started closes the child's ends in the test, so that reading the
// test's ends ends when the child and its descendants are gone.
func (p *initPipes) started() {
	for _, f := range p.child {
		f.Close()
	}
}

// TestSuid_InitRefused: the setuid binary refuses to be libcontainer's
// init for a user, whether asked by argument or by nsexec's variables,
// before runc's nsexec constructor has run (it would log to the log pipe
// and read its configuration from the init pipe) and before the Go
// runtime.
func TestSuid_InitRefused(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	for _, tc := range []struct {
		name  string
		argv0 string
		args  []string
		pipes bool
	}{
		{name: "init argument", args: []string{"init"}},
		{name: "init with libcontainer's pipes", args: []string{"init"}, pipes: true},
		{name: "nsexec's variables without init", args: []string{"ps"}, pipes: true},
		{name: "init under the OCI name", argv0: "dockless-runc", args: []string{"init"}, pipes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, suidBinary, tc.args...)
			if tc.argv0 != "" {
				cmd.Args[0] = tc.argv0
			}
			cmd.Dir, cmd.Env, cmd.SysProcAttr = alice.Home, []string{"PATH=/usr/bin:/bin"}, asUserAttr(alice)
			var p *initPipes
			if tc.pipes {
				p = newInitPipes(t)
				cmd.Env = append(cmd.Env, p.env()...)
				cmd.ExtraFiles = p.child
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if p != nil {
				p.started()
				p.initParent.Close() // nsexec, had it run, reads EOF instead of waiting
			}
			_ = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 125 || !strings.HasPrefix(stderr.String(), refusedInit) {
				t.Errorf("dockless %v as alice: exit %d, stderr %q; want 125 and the refusal", tc.args, code, stderr.String())
			}
			if p != nil {
				if log, _ := io.ReadAll(p.logRead); len(log) > 0 {
					t.Errorf("nsexec ran and logged to the caller's log pipe: %s", log)
				}
			}
		})
	}
}

// TestSuid_InitAttackGainsNoCapabilities plays libcontainer's parent side
// against the setuid binary run as alice: a bootstrap message with no
// namespaces on the init pipe is all nsexec needs to fork an init that
// sets all its uids to 0 and returns to the Go runtime with every
// capability, waiting for its configuration (any command) on the pipe.
func TestSuid_InitAttackGainsNoCapabilities(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	p := newInitPipes(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suidBinary, "init")
	cmd.Dir, cmd.Env, cmd.SysProcAttr = alice.Home, append([]string{"PATH=/usr/bin:/bin"}, p.env()...), asUserAttr(alice)
	cmd.ExtraFiles = p.child
	// A file, not a buffer: Wait must not wait for the stage-2 init (which
	// inherits stderr) to close it.
	stderrRead, stderrWrite, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stderrRead.Close()
	cmd.Stderr = stderrWrite
	err = cmd.Start()
	stderrWrite.Close()
	if err != nil {
		t.Fatal(err)
	}
	p.started()
	go io.Copy(io.Discard, p.logRead) //nolint:errcheck // nsexec's log, if it runs, must not block on a full pipe

	// libcontainer's bootstrap data: a netlink message of type INIT_MSG
	// (62000) with one attribute, CLONE_FLAGS_ATTR (27281) = 0.
	msg := make([]byte, 24)
	endian.NativeEndian.PutUint32(msg[0:], 24)
	endian.NativeEndian.PutUint16(msg[4:], 62000)
	endian.NativeEndian.PutUint16(msg[16:], 8)
	endian.NativeEndian.PutUint16(msg[18:], 27281)
	_, _ = p.initParent.Write(msg) // EPIPE when the binary refused at once

	// nsexec answers with the pids of its two children.
	line, _ := bufio.NewReader(p.initParent).ReadString('\n')
	_ = cmd.Wait() // stage 0 exits once its grandchild has become uid 0
	var pids struct {
		Stage1 int `json:"stage1_pid"`
		Stage2 int `json:"stage2_pid"`
	}
	if json.Unmarshal([]byte(line), &pids) == nil && pids.Stage2 > 0 {
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pids.Stage2))
		t.Errorf("a user's init was started by the setuid binary: %s %s", statusLine(status, "Uid"), statusLine(status, "CapEff"))
		p.initParent.Close() // the init reads EOF for its configuration and exits
		for _, pid := range []int{pids.Stage1, pids.Stage2} {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			_, _ = syscall.Wait4(pid, nil, 0, nil) // CLONE_PARENT made them the test's children
		}
	}
	stderr, _ := io.ReadAll(stderrRead) // every process of the attack is gone
	if code := cmd.ProcessState.ExitCode(); code != 125 || !strings.HasPrefix(string(stderr), refusedInit) {
		t.Errorf("dockless init as alice: exit %d, stderr %q; want 125 and the refusal", code, stderr)
	}
}

func statusLine(status []byte, key string) string {
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, key+":") {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return key + ": ?"
}

// TestSuid_EveryThreadDropsTheCallersGroups: once the setuid dockless has
// become root, none of its threads keeps the caller's supplementary groups
// (or ids): credentials are per thread, and a thread left with alice's
// groups would act as her group members on the node.
func TestSuid_EveryThreadDropsTheCallersGroups(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	cmd := exec.Command(suidBinary, "run", "--rm", "-i", "-q", busybox, "sh", "-c", "echo ready; read x; exit 0")
	cmd.Dir, cmd.Env, cmd.SysProcAttr = alice.Home, []string{"PATH=/usr/bin:/bin"}, asUserAttr(alice)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the container did not start: %q, stderr %s", line, stderr.String())
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", cmd.Process.Pid))
	if err != nil || len(tasks) < 2 {
		t.Fatalf("threads of dockless: %v %v", tasks, err)
	}
	for _, task := range tasks {
		status, err := os.ReadFile(task)
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{"Groups": "Groups: 0", "Uid": "Uid: 0 0 0 0", "Gid": "Gid: 0 0 0 0"} {
			if got := statusLine(status, key); got != want {
				t.Errorf("%s: %s, want %s", task, got, want)
			}
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the container: %v, stderr %s", err, stderr.String())
	}
}

// TestSuid_CallerEnvironmentNotActedOn: a setuid dockless runs for a user
// with the user's environment in hand; the libraries inside it must not
// act on it. Each case pulls (or runs) as alice with one poisoned variable
// and checks its effect did not happen, and that the command still works.
func TestSuid_CallerEnvironmentNotActedOn(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup returns alice's environment, the dockless arguments and
		// a check of what must not have happened.
		setup func(t *testing.T, dir string) (env, args []string, check func(t *testing.T, r result))
	}{
		{"PATH: no unpigz or igzip of the caller runs as root", func(t *testing.T, dir string) ([]string, []string, func(*testing.T, result)) {
			bin := userDir(t, filepath.Join(dir, "bin"), alice, 0o755)
			marker := filepath.Join(dir, "ran-as-root")
			for _, prog := range []string{"unpigz", "igzip"} {
				script := "#!/bin/sh\ntouch " + marker + "\nexec /bin/gzip -d -c\n"
				if err := os.WriteFile(filepath.Join(bin, prog), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			return []string{"PATH=" + bin + ":/usr/bin:/bin"}, []string{"pull", "-q", busybox}, func(t *testing.T, r result) {
				if _, err := os.Stat(marker); err == nil {
					t.Errorf("the caller's %s/unpigz ran as root", bin)
				}
			}
		}},
		{"XDG_RUNTIME_DIR and TMPDIR: no temporary mount in the caller's directory", func(t *testing.T, dir string) ([]string, []string, func(*testing.T, result)) {
			xdg := userDir(t, filepath.Join(dir, "xdg"), alice, 0o700)
			tmp := userDir(t, filepath.Join(dir, "tmp"), alice, 0o700)
			// An entry made and removed again still changes the
			// directory's modification time.
			past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			for _, d := range []string{xdg, tmp} {
				if err := os.Chtimes(d, past, past); err != nil {
					t.Fatal(err)
				}
			}
			return []string{"PATH=/usr/bin:/bin", "XDG_RUNTIME_DIR=" + xdg, "TMPDIR=" + tmp}, []string{"pull", "-q", busybox}, func(t *testing.T, r result) {
				for _, d := range []string{xdg, tmp} {
					if st, err := os.Stat(d); err != nil || !st.ModTime().Equal(past) {
						t.Errorf("dockless created something in the caller's %s", d)
					}
				}
			}
		}},
		{"GODEBUG: the Go runtime's debugging is not the caller's", func(t *testing.T, dir string) ([]string, []string, func(*testing.T, result)) {
			return []string{"PATH=/usr/bin:/bin", "GODEBUG=inittrace=1"}, []string{"--version"}, func(t *testing.T, r result) {
				if strings.Contains(r.stderr, "init ") {
					t.Errorf("the Go runtime traced for the caller: %s", r.stderr)
				}
			}
		}},
		{"-e KEY and env files take the caller's variables as data", func(t *testing.T, dir string) ([]string, []string, func(*testing.T, result)) {
			envFile := filepath.Join(dir, "env")
			if err := os.WriteFile(envFile, []byte("FROMFILE\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// TMPDIR is one the loader drops from a setuid program's
			// own environment: it still reaches the container.
			return []string{"PATH=/usr/bin:/bin", "FOO=bar", "TMPDIR=/job/tmp", "FROMFILE=kept"},
				[]string{"run", "--rm", "-q", "-e", "FOO", "-e", "TMPDIR", "--env-file", envFile, busybox, "sh", "-c", `echo "$FOO|$TMPDIR|$FROMFILE"`},
				func(t *testing.T, r result) {
					if r.stdout != "bar|/job/tmp|kept\n" {
						t.Errorf("the container's variables: %q, want bar|/job/tmp|kept", r.stdout)
					}
				}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.writePolicy("")
			env, args, check := tc.setup(t, openTempDir(t))
			r := e.runAs(alice, alice.Home, env, args...)
			if r.code != 0 {
				t.Fatalf("dockless %v as alice: %s", args, r)
			}
			check(t, r)
		})
	}
}

// publicName is a registry name that resolves nowhere: only a proxy can
// reach it, and only a CA the test made can vouch for it.
const publicName = "dltest-public.invalid"

// fakeRegistry serves the test registry over TLS as publicName, with a
// certificate from a CA of its own, and a CONNECT proxy in front of it. It
// is what a user would need to pin a public name in the node's shared
// store to their own image: their proxy and their CA.
type fakeRegistry struct {
	caFile string // the CA's certificate, readable by the test users
	proxy  *connectProxy
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dltest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: publicName}, DNSNames: []string{publicName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg.Addr}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	f := &fakeRegistry{caFile: filepath.Join(openTempDir(t), "ca.crt"), proxy: newConnectProxy(t, srv.Listener.Addr().String())}
	if err := os.WriteFile(f.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// connectProxy is an HTTP CONNECT proxy that tunnels every request to one
// address and remembers what it was asked for.
type connectProxy struct {
	addr   string
	mu     sync.Mutex
	asked  []string
	target string
}

func newConnectProxy(t *testing.T, target string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &connectProxy{addr: ln.Addr().String(), target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *connectProxy) serve(c net.Conn) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	p.mu.Lock()
	if err == nil {
		p.asked = append(p.asked, req.Method+" "+req.Host)
	} else {
		p.asked = append(p.asked, "unreadable request")
	}
	p.mu.Unlock()
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	go io.Copy(up, c) //nolint:errcheck // ends when either side closes
	_, _ = io.Copy(c, up)
}

func (p *connectProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// TestSuid_CallerProxyAndCAIgnored: alice's HTTPS_PROXY and SSL_CERT_FILE
// would let her pull her own image under a public name into the node's
// shared store (the registry she reaches through her proxy shows a
// certificate her CA signed). The setuid dockless uses neither: her proxy
// sees no connection and the name is not in the store.
func TestSuid_CallerProxyAndCAIgnored(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	f := newFakeRegistry(t)
	ref := publicName + "/test/busybox:latest"
	r := e.runAs(alice, alice.Home, []string{"PATH=/usr/bin:/bin", "HTTPS_PROXY=http://" + f.proxy.addr,
		"https_proxy=http://" + f.proxy.addr, "SSL_CERT_FILE=" + f.caFile, "SSL_CERT_DIR=" + filepath.Dir(f.caFile)}, "pull", "-q", ref)
	if got := f.proxy.requests(); len(got) > 0 {
		t.Errorf("the caller's proxy was used: %v", got)
	}
	if r.code == 0 {
		t.Errorf("alice pulled %s through her own proxy and CA: %s", ref, r)
	}
	if out := e.mustRun("images"); strings.Contains(out, publicName) {
		t.Errorf("the shared store holds alice's %s:\n%s", publicName, out)
	}
}

// TestSuid_RegistryProxyAndCAFromPolicy: the site's proxy ([registry]
// https_proxy) and a registry's CA (in mirrors_dir) are the ones a setuid
// dockless uses, whatever the caller's environment says.
func TestSuid_RegistryProxyAndCAFromPolicy(t *testing.T) {
	e := newEnv(t)
	f := newFakeRegistry(t)
	mirrors := filepath.Join(t.TempDir(), "certs.d")
	if err := os.MkdirAll(filepath.Join(mirrors, publicName), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(f.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mirrors, publicName, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	e.writePolicy(fmt.Sprintf("[registry]\nmirrors_dir = %q\nhttps_proxy = %q\n", mirrors, "http://"+f.proxy.addr))
	callers := newConnectProxy(t, "127.0.0.1:1")
	ref := publicName + "/test/busybox:latest"
	if r := e.runAs(alice, alice.Home, []string{"PATH=/usr/bin:/bin", "HTTPS_PROXY=http://" + callers.addr}, "pull", "-q", ref); r.code != 0 {
		t.Fatalf("a pull through the site's proxy: %s", r)
	}
	if got := f.proxy.requests(); len(got) == 0 || got[0] != "CONNECT "+publicName+":443" {
		t.Errorf("the site's proxy was asked %v, want CONNECT %s:443", got, publicName)
	}
	if got := callers.requests(); len(got) > 0 {
		t.Errorf("the caller's proxy was used: %v", got)
	}
}

// TestSuid_CallersLimitsBindTheJobNotDockless: the resource limits a caller
// starts the setuid dockless with cannot end it half-way through its work
// on the shared store (a file-size limit below a layer's size failed the
// pull; a CPU or address-space limit killed it at a chosen moment), and
// the container's process still runs under exactly the caller's limits.
// The soft limits are below the hard ones: root on this machine lacks
// CAP_SYS_RESOURCE and lifts a limit only up to the caller's hard limit
// (with the capability, to unlimited).
func TestSuid_CallersLimitsBindTheJobNotDockless(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	cmd := exec.Command("prlimit", "--fsize=1048576:unlimited", "--cpu=100:200", "--nofile=64:128", "--",
		suidBinary, "run", "--rm", busybox, "cat", "/proc/self/limits")
	cmd.Dir, cmd.SysProcAttr = alice.Home, asUserAttr(alice)
	r := runCmd(t, cmd)
	if r.code != 0 {
		t.Fatalf("a pull and run under alice's limits: %s", r)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`Max cpu time\s+100\s+200\s`),
		regexp.MustCompile(`Max file size\s+1048576\s+unlimited\s`),
		regexp.MustCompile(`Max open files\s+64\s+128\s`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("the container's limits lack %s:\n%s", want, r.stdout)
		}
	}
	// The caller's limits, not dockless's lifted ones, bound --ulimit.
	cmd = exec.Command("prlimit", "--nofile=64:128", "--", suidBinary, "run", "--rm", "--ulimit", "nofile=256:256", busybox, "true")
	cmd.Dir, cmd.SysProcAttr = alice.Home, asUserAttr(alice)
	if r := runCmd(t, cmd); r.code != 125 || !strings.Contains(r.stderr, "above your hard limit 128") {
		t.Fatalf("--ulimit above the caller's own hard limit: want exit 125 naming it, got %s", r)
	}
}
