// dockless-build runs one `dockless build` with BuildKit in process. It
// is not setuid: the setuid dockless starts it inside a user namespace
// where the caller is root (and their subordinate ids the rest), with
// every privilege of the node dropped, and hands it the build.Request on
// a pipe. It is found at
// ../libexec/dockless/dockless-build from dockless, never through PATH.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dockless/dockless/build"
	"github.com/dockless/dockless/build/kit"
	"github.com/dockless/dockless/runtime/deadarch"
	_ "github.com/dockless/dockless/runtime/hugeheap" // the heap's first chunk in huge pages: fewer faults at every build's start
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

func main() {
	logrus.SetLevel(logrus.ErrorLevel)
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		os.Exit(1)
	}
}

func run() (err error) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if err := ownProc(); err != nil {
		return err
	}
	var req build.Request
	in := os.NewFile(build.RequestFD, "request")
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		return fmt.Errorf("reading the build request (dockless-build is started by dockless build): %w", err)
	}
	in.Close()
	if err := build.ApplyRlimits(req.Rlimits); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	runtime, err := stepRuntime(req.Runtime)
	if err != nil {
		return err
	}
	k, err := kit.Start(ctx, req.State, runtime)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, k.Close()) }()
	// In the state, which Start empties after a crash of the node.
	if err := os.MkdirAll(os.Getenv("XDG_RUNTIME_DIR"), 0o700); err != nil {
		return err
	}
	contextDir, cleanup, err := localContext(req)
	if err != nil {
		return err
	}
	defer cleanup()
	var load *os.File
	if req.Load {
		load = os.NewFile(build.LoadFD, "load")
	}
	id, err := k.Solve(ctx, req, contextDir, os.Stderr, load)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return errors.New("build interrupted")
		}
		return err
	}
	if req.IIDFile != "" {
		if err := os.WriteFile(req.IIDFile, []byte(id), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if req.Quiet {
		fmt.Println(id)
	}
	return nil
}

// stepRuntime is the program BuildKit runs RUN steps with:
// dockless-build-runc, installed beside this program, in front of runtime
// ([build] runtime). It names it runtime in DOCKLESS_BUILD_RUNTIME, and
// the seccomp architectures this kernel runs no system call of in
// DOCKLESS_BUILD_DEAD_ARCHS (the names cmd/dockless-build-runc reads).
func stepRuntime(runtime string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	front := filepath.Join(filepath.Dir(exe), "dockless-build-runc")
	if _, err := os.Stat(front); err != nil {
		return "", fmt.Errorf("dockless-build needs %s beside it, which runs RUN steps (make install puts it there): %w", front, err)
	}
	var dead []string
	if !deadarch.KernelTakesX32() {
		dead = append(dead, string(specs.ArchX32))
	}
	if !deadarch.KernelRunsIA32() {
		dead = append(dead, string(specs.ArchX86))
	}
	if err := os.Setenv("DOCKLESS_BUILD_RUNTIME", runtime); err != nil {
		return "", err
	}
	if err := os.Setenv("DOCKLESS_BUILD_DEAD_ARCHS", strings.Join(dead, ",")); err != nil {
		return "", err
	}
	return front, nil
}

// localContext is req's context directory, checked against [build]
// max_context_size: a tar on stdin unpacked in the state directory (and
// removed by cleanup); none for a URL, which BuildKit fetches.
func localContext(req build.Request) (dir string, cleanup func(), err error) {
	dir, cleanup = req.Context, func() {}
	if _, remote := build.ContextURL(req.Context); remote {
		return "", cleanup, nil
	}
	if dir == "-" {
		if dir, err = build.UntarStdin(filepath.Join(req.State, "stdin-context")); err != nil {
			return "", cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	if err := build.CheckContextSize(dir, req.MaxContextSize); err != nil {
		cleanup()
		return "", func() {}, err
	}
	return dir, cleanup, nil
}

// ownProc mounts a /proc of the build's own PID namespace (dockless build
// starts dockless-build under dockless-init, PID 1 of a new one) over the
// node's, in the build's own mount namespace: runc, which runs RUN steps,
// finds its processes in /proc by the pids it sees. /proc/self names this
// process by its pid in the namespace of the /proc mounted.
func ownProc() error {
	self, err := os.Readlink("/proc/self")
	if err != nil || self == strconv.Itoa(os.Getpid()) {
		return nil
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting the build's /proc: %w", err)
	}
	return nil
}
