package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/policy"
	"golang.org/x/sys/unix"
)

// maxSSHState is the longest build state path where BuildKit's agent
// socket for RUN --mount=type=ssh (STATE/.buildkit-ssh-sockNNNNNNNNNN/
// ssh_auth_sock) fits a socket address (107 bytes).
const maxSSHState = 107 - len("/.buildkit-ssh-sock4294967295/ssh_auth_sock")

// Runner starts builds for one caller.
type Runner struct {
	Caller *policy.Caller
	Policy *policy.Policy
	Store  *images.Store
	// Helper is dockless-build (Helper()).
	Helper string
	// Init is dockless-init, the PID 1 of the build's own PID namespace
	// ("": none, and no PID namespace). When the build's dockless dies,
	// even by SIGKILL, the init dies with it and the kernel ends every
	// process of the namespace: no RUN step outlives its build.
	Init   string
	Stdout io.Writer
	Stderr io.Writer
}

// ExitError is dockless-build's exit status: the build's.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("the build failed (exit status %d)", e.Code) }

// Run runs req as the caller in their user namespace, its state in
// [build] root (<root>/<uid>, the caller's; one build of a caller at a
// time, waiting [build] lock_timeout), then loads the image into the
// store (req.Load).
func (r *Runner) Run(ctx context.Context, req Request) error {
	if err := CheckUserNamespaces(); err != nil {
		return err
	}
	limits, err := r.Policy.BuildLimits()
	if err != nil {
		return err
	}
	uids, gids, err := r.mappings()
	if err != nil {
		return err
	}
	state := filepath.Join(r.root(), strconv.FormatUint(uint64(r.Caller.UID), 10))
	if len(req.SSH) > 0 && len(state) > maxSSHState {
		return fmt.Errorf("--ssh: RUN's agent socket is made in your build state %s, too long a path for a socket (at most %d characters; [build] root in %s): ask the node's admin for a shorter [build] root", state, maxSSHState, r.Policy.Source())
	}
	lock, err := r.lock(ctx, state, limits.LockTimeout)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := r.stateDir(state); err != nil {
		return err
	}
	req.State, req.Runtime, req.MaxContextSize = state, r.Policy.Build.Runtime, limits.MaxContextSize
	for res, l := range r.Caller.Rlimits {
		req.Rlimits = append(req.Rlimits, Rlimit{Resource: res, Cur: l.Cur, Max: l.Max})
	}
	return r.start(ctx, req, uids, gids)
}

// root is [build] root: by default beside the store root (<root>-build),
// not in it: the store's directory is root's alone, and a build runs as
// its caller.
func (r *Runner) root() string {
	if r.Policy.Build.Root != "" {
		return r.Policy.Build.Root
	}
	return filepath.Clean(r.Store.Root()) + "-build"
}

// mappings are the caller's uid and gid maps: 0 the caller, 1.. their
// subordinate ids. A caller without them is refused: RUN's runtime
// needs more ids than one (its terminal's group, an image's users).
func (r *Runner) mappings() (uids, gids []syscall.SysProcIDMap, err error) {
	b := r.Policy.Build
	subu, err := Subordinate(b.SubuidFile, r.Caller.Name, r.Caller.UID)
	if err != nil {
		return nil, nil, err
	}
	subg, err := Subordinate(b.SubgidFile, r.Caller.Name, r.Caller.UID)
	if err != nil {
		return nil, nil, err
	}
	if subu.Count == 0 || subg.Count == 0 {
		return nil, nil, fmt.Errorf("dockless build: %s has no subordinate ids in %s and %s ([build] subuid_file, subgid_file in %s): a build runs as you with a range of ids of yours; ask the node's admin for a line %s:START:COUNT in both",
			r.Caller.Name, b.SubuidFile, b.SubgidFile, r.Policy.Source(), r.Caller.Name)
	}
	return Mappings(r.Caller.UID, subu), Mappings(r.Caller.GID, subg), nil
}

// lock takes the caller's build lock, waiting at most timeout for their
// other build (and saying so).
func (r *Runner) lock(ctx context.Context, state string, timeout time.Duration) (*os.File, error) {
	// Searchable, not listable: each caller reaches their own directory.
	if err := os.MkdirAll(filepath.Dir(state), 0o711); err != nil {
		return nil, err
	}
	if err := checkRoot(filepath.Dir(state)); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Dir(state), 0o711); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(state+".lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		return f, nil
	}
	fmt.Fprintf(r.Stderr, "dockless build: another build of yours is running; waiting for it, at most %s ([build] lock_timeout)\n", timeout)
	for unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another build of yours holds %s after %s ([build] lock_timeout in %s): wait for it, or stop it", state, timeout, r.Policy.Source())
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	return f, nil
}

// checkRoot refuses a build root that is not a directory of root's that
// nobody else may write: root makes each caller's lock and directory in
// it, and chowns the directory to them, by path. A build root a user made
// first (next to a store in a scratch directory), or a link, would let
// them point those at any file.
func checkRoot(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != 0 || st.Mode&0o022 != 0 {
		return fmt.Errorf("the build root %s must be a directory of root's that no one else may write (it is mode %#o, uid %d, type %#o): make it so, or set [build] root to one", dir, st.Mode&0o7777, st.Uid, st.Mode&unix.S_IFMT)
	}
	return nil
}

// stateDir makes the caller's state directory theirs, 0700.
func (r *Runner) stateDir(state string) error {
	if err := os.Mkdir(state, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(state, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s: not a directory", state)
	}
	if err := unix.Lchown(state, int(r.Caller.UID), int(r.Caller.GID)); err != nil {
		return err
	}
	return unix.Chmod(state, 0o700)
}

// start runs dockless-build with req and waits for it; with req.Load it
// takes the image it sends back into the store.
func (r *Runner) start(ctx context.Context, req Request, uids, gids []syscall.SysProcIDMap) error {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer reqR.Close()
	loadR, loadW, err := os.Pipe()
	if err != nil {
		reqW.Close()
		return err
	}
	defer loadR.Close()
	cmd := exec.Command(r.Helper)
	if r.Init != "" {
		cmd = exec.Command(r.Init, "--", r.Helper)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, r.Stdout, r.Stderr
	cmd.ExtraFiles = []*os.File{reqR, loadW}
	cmd.Env = r.env()
	Namespaced(cmd, uids, gids, r.Init != "")
	err = cmd.Start()
	loadW.Close()
	if err != nil {
		reqW.Close()
		return fmt.Errorf("starting %s: %w", r.Helper, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = unix.Kill(-cmd.Process.Pid, unix.SIGTERM) })
	defer stop()
	err = json.NewEncoder(reqW).Encode(req)
	reqW.Close()
	spool, err := r.spool(req.Load)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	defer spool.Close()
	spooled := make(chan error, 1)
	go func() { spooled <- spool.fill(loadR) }()
	werr := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		return ExitError{Code: ee.ExitCode()}
	case werr != nil:
		return werr
	case err != nil:
		return fmt.Errorf("sending the build request: %w", err)
	}
	if err := <-spooled; err != nil || !req.Load {
		return err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = r.Store.Load(ctx, spool, req.Tags)
	return err
}

// env is dockless-build's environment: the caller's home and docker
// config, the system's PATH (credential helpers), the site's proxies
// ([registry] https_proxy, http_proxy, no_proxy: for pulls, pushes and
// context URLs, in both spellings, git's and Go's), nothing else of
// theirs.
func (r *Runner) env() []string {
	state := filepath.Join(r.root(), strconv.FormatUint(uint64(r.Caller.UID), 10))
	var proxies []string
	reg := r.Policy.Registry
	for _, p := range [][2]string{{"HTTPS_PROXY", reg.HTTPSProxy}, {"HTTP_PROXY", reg.HTTPProxy}, {"NO_PROXY", reg.NoProxy}} {
		if p[1] != "" {
			proxies = append(proxies, p[0]+"="+p[1], strings.ToLower(p[0])+"="+p[1])
		}
	}
	return append(proxies,
		"HOME="+r.Caller.Home,
		"DOCKER_CONFIG="+filepath.Dir(images.DockerConfigPath(r.Caller)),
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
		"TMPDIR="+state,
		// runc's state (rootless runc keeps it there, else in /run/runc).
		"XDG_RUNTIME_DIR="+filepath.Join(state, "runtime"),
	)
}

// spool is where the image dockless-build sends back (an OCI tar) waits
// until the build succeeded: a file under the store root, bounded by
// [store] max_image_size; without --load, nowhere.
type spool struct {
	*os.File
	max    int64
	source string
}

func (r *Runner) spool(load bool) (*spool, error) {
	if !load {
		return &spool{}, nil
	}
	dir := filepath.Join(r.Store.Root(), "build")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "load-*.tar")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: nothing is left of it on any way out.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return &spool{File: f, max: r.Store.Limits.MaxImageSize, source: r.Policy.Source()}, nil
}

// fill copies in to the spool until dockless-build closes it.
func (s *spool) fill(in io.Reader) error {
	if s.File == nil {
		_, err := io.Copy(io.Discard, in)
		return err
	}
	var src io.Reader = in
	if s.max > 0 {
		src = io.LimitReader(in, s.max+1)
	}
	n, err := io.Copy(s.File, src)
	if err != nil {
		return err
	}
	if s.max > 0 && n > s.max {
		_, _ = io.Copy(io.Discard, in)
		return fmt.Errorf("the built image is larger than [store] max_image_size in %s: it is not loaded", s.source)
	}
	return nil
}

// Close closes the spool's file, if it has one.
func (s *spool) Close() error {
	if s.File == nil {
		return nil
	}
	return s.File.Close()
}
