package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// sshServer is a real OpenSSH sshd run by root on 127.0.0.1, in inetd
// mode: the test accepts each connection and runs `sshd -i` on it, a
// child it waits for. Public-key logins only, of the keys in its
// authorized file, no PAM, everything in a directory of the test's; its
// log (LogLevel VERBOSE) names each accepted key.
type sshServer struct {
	port int
	mu   sync.Mutex
	log  bytes.Buffer
	// uids are the node uids of the clients, each connection's
	// (socketOwner: the client waits for sshd's banner, still connected).
	uids map[uint32]bool
}

// clients are the node uids that connected.
func (s *sshServer) clients() map[uint32]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uids
}

// Write appends to the log, which every connection's sshd writes.
func (s *sshServer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

func (s *sshServer) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// startSSHD serves ln with sshd, letting u log in with the public key
// authorized (an authorized_keys line), until cleanup, which waits for
// every connection's sshd.
func startSSHD(t *testing.T, ln net.Listener, u testUser, authorized string) *sshServer {
	t.Helper()
	dir := openTempDir(t)
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	// sshd reads the authorized keys as the user: readable by all.
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte(authorized), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`HostKey %s
PidFile none
UsePAM no
StrictModes no
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile %s
AllowUsers %s
DisableForwarding yes
LogLevel VERBOSE
`, hostKey, keys, u.Name)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The privilege separation directory, which the package's service
	// makes when it starts (removed if made here, once sshd is gone).
	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
		if err := os.Mkdir("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/sshd") })
	}
	s := &sshServer{port: ln.Addr().(*net.TCPAddr).Port, uids: map[uint32]bool{}}
	var conns sync.WaitGroup
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			uid := socketOwner(t, conn.RemoteAddr().String(), conn.LocalAddr().String())
			s.mu.Lock()
			s.uids[uid] = true
			s.mu.Unlock()
			f, err := conn.(*net.TCPConn).File()
			conn.Close()
			if err != nil {
				continue
			}
			cmd := exec.Command("/usr/sbin/sshd", "-i", "-e", "-f", config)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, s
			// PID 1 of its own PID namespace: when it ends, the kernel
			// ends and reaps what it leaves (sshd does not wait for its
			// pre-authentication child when a client leaves early).
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
			if err := cmd.Start(); err != nil {
				fmt.Fprintf(s, "starting sshd: %v\n", err)
				f.Close()
				continue
			}
			f.Close()
			conns.Add(1)
			go func() { defer conns.Done(); _ = cmd.Wait() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-served
		conns.Wait()
	})
	return s
}

// sshAgentOf starts a real ssh-agent as u, holding a fresh ed25519 key
// when withKey, and stops it at cleanup. It returns the agent's socket
// and the key's authorized_keys line and fingerprint.
func sshAgentOf(t *testing.T, u testUser, withKey bool) (sock, authorized, fingerprint string) {
	t.Helper()
	dir := userDir(t, filepath.Join(openTempDir(t), "ssh"), u, 0o700)
	env := []string{"HOME=" + u.Home, "PATH=/usr/bin:/bin"}
	asU := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir, cmd.SysProcAttr = env, dir, asUserAttr(u)
		return cmd
	}
	must := func(cmd *exec.Cmd) string {
		t.Helper()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v: %s", cmd.Args, err, out)
		}
		return string(out)
	}
	sock = filepath.Join(dir, "agent.sock")
	agent := asU("ssh-agent", "-D", "-a", sock)
	stdout, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatalf("starting ssh-agent: %v", err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	// It prints its socket once it listens on it.
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.HasPrefix(line, "SSH_AUTH_SOCK="+sock) {
		t.Fatalf("ssh-agent: %q %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if !withKey {
		return sock, "", ""
	}
	key := filepath.Join(dir, "id_ed25519")
	must(asU("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", u.Name+"-test", "-f", key))
	add := asU("ssh-add", key)
	add.Env = append(add.Env, "SSH_AUTH_SOCK="+sock)
	must(add)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fp := strings.Fields(must(asU("ssh-keygen", "-l", "-f", key+".pub")))
	if len(fp) < 2 {
		t.Fatalf("ssh-keygen -l: %v", fp)
	}
	return sock, string(pub), fp[1]
}

// TestBuild_ContextOverSSH: alice builds from a git repository served by
// a real sshd on 127.0.0.1 (ssh://USER@HOST:PORT/PATH#ref:subdir), her
// ssh-agent's key the one sshd accepts, every client of sshd a process of
// hers (never root's): with --ssh default, and without
// it (docker's default: a git context over SSH is fetched with the
// caller's agent); the image runs with the ref's file. Without an agent
// dockless refuses (125) before building, naming SSH_AUTH_SOCK; an agent
// whose keys sshd does not accept fails the build (docker's 1). Neither
// leaves an image. The scp form USER@HOST:PATH cannot name a port
// (BuildKit runs ssh with -F /dev/null: no ssh_config either): it is
// tested with an sshd on 127.0.0.1:22 when nothing listens there.
func TestBuild_ContextOverSSH(t *testing.T) {
	e := buildEnv(t, "")
	sock, authorized, fingerprint := sshAgentOf(t, alice, true)
	empty, _, _ := sshAgentOf(t, alice, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startSSHD(t, ln, alice, authorized)
	repos := openTempDir(t)
	gitRepo(t, repos)
	// Hers: git refuses to serve a repository of another owner's.
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", alice.UID, alice.GID), repos).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	url := fmt.Sprintf("ssh://%s@127.0.0.1:%d%s/repo.git#v1:app", alice.Name, srv.port, repos)
	agent := []string{"SSH_AUTH_SOCK=" + sock}

	built := func(what, tag, want string) {
		t.Helper()
		r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", tag, "/ctx/busybox", "cat", "/ctx/marker")
		if r.code != 0 || r.stdout != want {
			t.Errorf("%s: the image's /ctx/marker: %s", what, r)
		}
	}
	if r := e.runAs(alice, alice.Home, agent, "build", "--progress", "plain", "--ssh", "default", "-t", "dockless-test/ssh:1", url); r.code != 0 {
		t.Fatalf("ssh://, --ssh default: %s\nsshd:\n%s", r, srv.logText())
	}
	built("ssh://, --ssh default", "dockless-test/ssh:1", "v1\n")
	if log := srv.logText(); !strings.Contains(log, "Accepted publickey for "+alice.Name+" from 127.0.0.1") || !strings.Contains(log, fingerprint) {
		t.Errorf("sshd did not accept alice's agent's key %s:\n%s", fingerprint, log)
	}
	if r := e.runAs(alice, alice.Home, agent, "build", "-q", "-t", "dockless-test/ssh:2", url); r.code != 0 {
		t.Errorf("ssh:// without --ssh, her agent in SSH_AUTH_SOCK: %s", r)
	} else {
		built("ssh:// without --ssh", "dockless-test/ssh:2", "v1\n")
	}

	if r := e.runAs(alice, alice.Home, nil, "build", "-q", "-t", "dockless-test/ssh:noagent", url); r.code != 125 || !strings.Contains(r.stderr, "SSH_AUTH_SOCK is not set") || !strings.Contains(r.stderr, "--ssh default=") {
		t.Errorf("an SSH context without an agent: %s", r)
	}
	r := e.runAs(alice, alice.Home, []string{"SSH_AUTH_SOCK=" + empty}, "build", "-q", "--ssh", "default", "-t", "dockless-test/ssh:nokey", url)
	if r.code != 1 || !strings.Contains(r.stderr, "Permission denied (publickey)") {
		t.Errorf("an agent without an authorized key: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "images"); r.code != 0 || strings.Contains(r.stdout, "noagent") || strings.Contains(r.stdout, "nokey") {
		t.Errorf("a failed build left an image: %s", r)
	}
	if c := srv.clients(); len(c) != 1 || !c[alice.UID] {
		t.Errorf("sshd's clients (the key scan and git's ssh) were uids %v, want alice's (%d) alone", c, alice.UID)
	}

	t.Run("scp form", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:22")
		if err != nil {
			t.Skipf("the scp form USER@HOST:PATH is fetched from port 22, and 127.0.0.1:22 is taken: %v", err)
		}
		startSSHD(t, ln, alice, authorized)
		scp := fmt.Sprintf("%s@127.0.0.1:%s/repo.git#:app", alice.Name, repos)
		if r := e.runAs(alice, alice.Home, agent, "build", "-q", "--ssh", "default", "-t", "dockless-test/ssh:scp", scp); r.code != 0 {
			t.Fatalf("%s: %s", scp, r)
		}
		built("the scp form", "dockless-test/ssh:scp", "master\n")
	})
}
