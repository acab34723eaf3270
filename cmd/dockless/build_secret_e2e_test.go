package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/sys/unix"
)

// sshAgent serves a keyring holding one key, commented comment, on a
// socket of u's, and records the uid of each process that connects.
func sshAgent(t *testing.T, u testUser, comment string) (sock string, peers func() []uint32) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key, Comment: comment}); err != nil {
		t.Fatal(err)
	}
	sock = filepath.Join(userDir(t, filepath.Join(openTempDir(t), "agent"), u, 0o700), "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(sock, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var uids []uint32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			raw, _ := conn.(*net.UnixConn).SyscallConn()
			_ = raw.Control(func(fd uintptr) {
				if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
					mu.Lock()
					uids = append(uids, cred.Uid)
					mu.Unlock()
				}
			})
			go func() { _ = agent.ServeAgent(keyring, conn); conn.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return sock, func() []uint32 { mu.Lock(); defer mu.Unlock(); return append([]uint32(nil), uids...) }
}

// TestBuild_SecretsAndSSHAsTheCallerNotInTheImage: --secret from a file
// of alice's and from her variable, and --ssh default (her agent) reach
// RUN --mount=type=secret|ssh; the agent is dialled by alice's processes
// only; neither secret is in any blob of the exported image; a secret
// file alice may not read fails the build.
func TestBuild_SecretsAndSSHAsTheCallerNotInTheImage(t *testing.T) {
	// BuildKit puts RUN's agent socket in the build state: a short root
	// keeps its path within a socket's 108 bytes (t.TempDir()'s is long).
	root, err := os.MkdirTemp("", "dlb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o711); err != nil {
		t.Fatal(err)
	}
	e := buildEnv(t, fmt.Sprintf("root = %q\n", root))
	ctx := twoStage(t, alice)
	list := exec.Command("go", "build", "-o", filepath.Join(ctx, "agentlist"), "./testdata/agentlist")
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := list.CombinedOutput(); err != nil {
		t.Fatalf("building agentlist: %v: %s", err, out)
	}
	df := `FROM scratch
COPY busybox agentlist /bin/
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok > /tok-sum
RUN --mount=type=secret,id=envtok sha256sum /run/secrets/envtok > /envtok-sum
RUN --mount=type=ssh agentlist > /ssh-keys
`
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(userDir(t, filepath.Join(openTempDir(t), "tok"), alice, 0o700), "tok")
	if err := os.WriteFile(tok, []byte("file-s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tok, int(alice.UID), int(alice.GID)); err != nil {
		t.Fatal(err)
	}
	sock, peers := sshAgent(t, alice, "alice-test-key")
	out := filepath.Join(userDir(t, filepath.Join(openTempDir(t), "out"), alice, 0o755), "image.tar")
	r := e.runAs(alice, ctx, []string{"TOKVAR=env-s3cret", "SSH_AUTH_SOCK=" + sock}, "build", "--progress", "plain",
		"--secret", "id=tok,src="+tok, "--secret", "id=envtok,env=TOKVAR", "--ssh", "default", "-o", "type=oci,dest="+out, ".")
	if r.code != 0 {
		t.Fatalf("the build with secrets and ssh: %s", r)
	}
	img := readOCI(t, out)
	sum := func(s, id string) string { return fmt.Sprintf("%x  /run/secrets/%s\n", sha256.Sum256([]byte(s)), id) }
	for file, want := range map[string]string{"/tok-sum": sum("file-s3cret", "tok"), "/envtok-sum": sum("env-s3cret", "envtok"), "/ssh-keys": "alice-test-key\n"} {
		if got := img.bodies[file]; got != want {
			t.Errorf("%s in the image: %q, want %q", file, got, want)
		}
	}
	for _, s := range []string{"file-s3cret", "env-s3cret"} {
		if img.holds(s) {
			t.Errorf("the secret %q is in a blob of the image", s)
		}
	}
	for name := range img.files {
		if strings.HasPrefix(name, "/run/secrets/") {
			t.Errorf("the image holds %s", name)
		}
	}
	p := peers()
	others := len(p) == 0
	for _, u := range p {
		others = others || u != alice.UID
	}
	if others {
		t.Errorf("the agent was dialled by uids %v, want alice's (%d) alone", p, alice.UID)
	}

	rootOnly := filepath.Join(openTempDir(t), "root-only")
	if err := os.WriteFile(rootOnly, []byte("root's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.runAs(alice, ctx, nil, "build", "-q", "--secret", "id=tok,src="+rootOnly, "."); r.code != 1 || !strings.Contains(r.stderr, "permission denied") {
		t.Errorf("a secret file alice may not read: %s", r)
	}
	if r := e.runAs(alice, ctx, nil, "build", "-q", "--ssh", "default", "."); r.code != 125 || !strings.Contains(r.stderr, "SSH_AUTH_SOCK is not set") {
		t.Errorf("--ssh default without an agent: %s", r)
	}
}
