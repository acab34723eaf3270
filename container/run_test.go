package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/runtime"
	_ "github.com/dockless/dockless/runtime/initexec" // libcontainer's nsexec, and the small init's entry
	"github.com/dockless/dockless/spec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// TestMain is also the container's init: libcontainer re-executes the
// test binary with "init".
func TestMain(m *testing.M) {
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	os.Exit(m.Run())
}

// fakeImages hands out one image whose rootfs is a directory bind-mounted
// read-write, and records what it prepared and released, the holds it
// gave and took back, and the order of the calls that matter to the size
// cap. Set its errors to make a step fail.
type fakeImages struct {
	rootfs                string
	volumes               []string
	ensureErr, prepareErr error
	badMount              bool
	// releaseErr fails the release of these snapshots.
	releaseErr         map[string]error
	prepared, released []string
	held               map[*images.Image]bool
	calls              []string
}

func (s *fakeImages) Ensure(_ context.Context, ref string, _ images.PullPolicy, opts images.PullOptions) (*images.Image, error) {
	s.calls = append(s.calls, fmt.Sprintf("ensure hold=%v", opts.Hold))
	if s.ensureErr != nil {
		return nil, s.ensureErr
	}
	img := &images.Image{Name: ref, Config: ocispec.Image{Config: ocispec.ImageConfig{Cmd: []string{"true"}, Env: []string{"PATH=/bin"}}}}
	if opts.Hold {
		if s.held == nil {
			s.held = map[*images.Image]bool{}
		}
		s.held[img] = true
	}
	if s.volumes != nil {
		img.Config.Config.Volumes = map[string]struct{}{}
		for _, v := range s.volumes {
			img.Config.Config.Volumes[v] = struct{}{}
		}
	}
	return img, nil
}

func (s *fakeImages) Prepare(_ context.Context, key string, img *images.Image) ([]mount.Mount, error) {
	s.calls = append(s.calls, "prepare")
	if s.prepareErr != nil {
		return nil, s.prepareErr
	}
	delete(s.held, img)
	s.prepared = append(s.prepared, key)
	src := s.rootfs
	if s.badMount {
		src = filepath.Join(s.rootfs, "missing")
	}
	return []mount.Mount{{Type: "bind", Source: src, Options: []string{"rbind", "rw"}}}, nil
}

func (s *fakeImages) Release(_ context.Context, key string) error {
	s.released = append(s.released, key)
	return s.releaseErr[key]
}

func (s *fakeImages) Unhold(_ context.Context, img *images.Image) error {
	delete(s.held, img)
	return nil
}

func (s *fakeImages) EnforceCap(context.Context, int64) ([]string, int, error) {
	s.calls = append(s.calls, "cap")
	return nil, 0, nil
}

// busyboxRootfs lays out a root filesystem with the host's busybox.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("busybox-static is needed: %v", err)
	}
	dir := t.TempDir()
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"sh", "true", "id"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", l)); err != nil {
			t.Fatal(err)
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/tmp:/bin/sh\n"
	if err := os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRun_EachFailureUndoesWhatWasDone makes each step of Run fail in
// turn, and then finds nothing of the container left: no state directory,
// name reservation, cidfile of its own, mount or prepared snapshot.
func TestRun_EachFailureUndoesWhatWasDone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs containers: needs root")
	}
	rootfs := busyboxRootfs(t)
	userDir := t.TempDir()
	root := &policy.Caller{Name: "root", Home: "/root"}
	alice := &policy.Caller{UID: 1000, GID: 1000, Name: "alice", Home: "/tmp"}
	for _, tc := range []struct {
		name string
		// edit sets the failure up: the request, the options, the store,
		// the node.
		edit func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node)
		want string
		code int
	}{
		{"the policy refuses the request", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			n.Caller, req.CapAdd = alice, []string{"SYS_ADMIN"}
		}, "[job] capabilities", -1},
		{"the image cannot be had", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			s.ensureErr = errors.New("registry down")
		}, "registry down", -1},
		{"an invalid name", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			o.Name = "-x"
		}, "invalid container name", -1},
		{"the name is in use", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			o.Name = "taken"
			writeFile(t, filepath.Join(n.State, "names", "taken"), "another")
		}, "already in use", -1},
		{"the cidfile exists", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			o.CIDFile, o.StateCIDFile = filepath.Join(userDir, "cid"), true
			writeFile(t, o.CIDFile, "old")
		}, "exists", -1},
		{"the snapshot cannot be prepared", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			s.prepareErr = errors.New("no snapshot")
		}, "no snapshot", -1},
		{"the rootfs cannot be mounted", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			s.badMount = true
		}, "mounting rootfs", -1},
		{"the user is not in the image", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			req.UserSpec = "nosuchuser"
		}, "nosuchuser", -1},
		{"the policy refuses the user", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			n.Caller, req.UserSpec = alice, "0"
		}, "allow_root", -1},
		{"an image volume cannot be seeded", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			s.volumes = []string{"/etc/passwd"}
		}, "VOLUME /etc/passwd", -1},
		{"a user's bind was never checked", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			req.Mounts = []spec.Bind{{Source: userDir, Destination: "/data", User: true}}
		}, "never checked", -1},
		{"the spec cannot be built, after a bind was staged", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			req.Mounts = []spec.Bind{checkedBind(t, userDir, "/data")}
			req.CapAdd = []string{"NOT_A_CAPABILITY"}
		}, "NOT_A_CAPABILITY", -1},
		{"the mount tree refuses a bind nested in a read-only one, after both were staged", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			outer := filepath.Join(userDir, "outer")
			if err := os.MkdirAll(outer, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(userDir, 0o755); err != nil {
				t.Fatal(err)
			}
			n.Caller = alice
			ro := checkedBind(t, outer, "/data")
			ro.ReadOnly = true
			req.Mounts = []spec.Bind{ro, checkedBind(t, userDir, "/data/missing")}
		}, "does not exist in your bind", -1},
		{"the command is not in the image", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			req.Mounts = []spec.Bind{checkedBind(t, userDir, "/data")}
			req.Cmd = []string{"/no/such/command"}
		}, "/no/such/command", 127},
		{"the container runs and exits", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			req.Mounts = []spec.Bind{checkedBind(t, userDir, "/data")}
			o.Name, o.StateCIDFile = "ran", true
			req.Cmd = []string{"sh", "-c", "test -d /data && exit 3"}
		}, "", 3},
		{"image volumes are seeded, writable under --read-only, and removed with the container", func(t *testing.T, req *spec.Request, o *Options, s *fakeImages, n *Node) {
			s.volumes = []string{"/bin", "/fresh/", "/data/inside"}
			req.Mounts = []spec.Bind{checkedBind(t, userDir, "/data")}
			req.ReadOnly = true
			req.Cmd = []string{"sh", "-c", "test -x /bin/busybox && test -d /fresh && touch /bin/new /fresh/new && ! touch /etc/new && ! test -e /data/inside && exit 4"}
		}, "", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			store := &fakeImages{rootfs: rootfs}
			var log bytes.Buffer
			logger := logrus.New()
			logger.SetOutput(&log)
			n := &Node{Caller: root, Policy: policy.Default(), State: state, Images: store, Log: logger}
			req := &spec.Request{Image: "busybox", Network: "host"}
			opts := Options{Pull: images.PullMissing}
			tc.edit(t, req, &opts, store, n)
			defer closeChecked(req.Mounts)
			code, err := n.Run(context.Background(), req, opts, runtime.IO{})
			var start *runtime.StartError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("failed: %v\n%s", err, log.String())
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error naming %q, got %v (exit %d)", tc.want, err, code)
			case errors.As(err, &start):
				code = start.Code
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			nothingLeft(t, n, store, log.String())
		})
	}
}

// TestRun_SizeCapAppliesOnceTheSnapshotKeepsTheImage: a run holds its
// image from Ensure on and applies the store's size cap only after the
// container's snapshot exists, so that the cap never evicts the image
// about to start; a spec-only run (lsf spec) neither holds nor evicts.
func TestRun_SizeCapAppliesOnceTheSnapshotKeepsTheImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs containers: needs root")
	}
	rootfs := busyboxRootfs(t)
	for _, tc := range []struct {
		name     string
		specOnly bool
		want     []string
	}{
		{"a run", false, []string{"ensure hold=true", "prepare", "cap"}},
		{"a spec-only run", true, []string{"ensure hold=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &fakeImages{rootfs: rootfs}
			pol := policy.Default()
			pol.Store.MaxSize = "4M"
			n := &Node{Caller: &policy.Caller{Name: "root", Home: "/root"}, Policy: pol, State: t.TempDir(), Images: store, Log: logrus.New()}
			opts := Options{Pull: images.PullMissing}
			if tc.specOnly {
				opts.SpecOnly = io.Discard
			}
			if _, err := n.Run(context.Background(), &spec.Request{Image: "busybox", Network: "host"}, opts, runtime.IO{}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(store.calls, tc.want) {
				t.Errorf("calls %v, want %v", store.calls, tc.want)
			}
			nothingLeft(t, n, store, "")
		})
	}
}

// nothingLeft checks that no container is left in n's state.
func nothingLeft(t *testing.T, n *Node, s *fakeImages, log string) {
	t.Helper()
	if entries, _ := os.ReadDir(n.containersDir()); len(entries) > 0 {
		t.Errorf("state left: %v", entries)
	}
	if mounts, err := mountsUnder(n.State); err != nil || len(mounts) > 0 {
		t.Errorf("mounts left: %v %v", mounts, err)
	}
	names, _ := os.ReadDir(filepath.Join(n.State, "names"))
	for _, e := range names {
		if e.Name() != "taken" {
			t.Errorf("name reservation left: %s", e.Name())
		}
	}
	if cids, _ := os.ReadDir(filepath.Join(n.State, "cid")); len(cids) > 0 {
		t.Errorf("state cidfile left: %v", cids)
	}
	if fmt.Sprint(s.prepared) != fmt.Sprint(s.released) {
		t.Errorf("snapshots prepared %v, released %v", s.prepared, s.released)
	}
	if len(s.held) > 0 {
		t.Errorf("images still held: %d", len(s.held))
	}
	if strings.Contains(log, "left in place") {
		t.Errorf("the log reports something left:\n%s", log)
	}
}

// checkedBind is a user's bind of dir, opened as the front end opens it.
func checkedBind(t *testing.T, dir, dst string) spec.Bind {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return spec.Bind{Source: dir, Destination: dst, User: true, Checked: f}
}

func closeChecked(binds []spec.Bind) {
	for _, b := range binds {
		if b.Checked != nil {
			b.Checked.Close()
		}
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// interruptAt is a front end's signal handling (SetupHooks) that sends the
// process a SIGTERM at one moment of a run and waits until os/signal has
// delivered it: to its own channel, and to the runtime's if the runtime
// catches it by then. Like dockless's, it cancels the run for an interrupt
// it took; it does so only when told to hand the signals over, as late as
// a real handler's goroutine may.
type interruptAt struct {
	moment string // "SetupDone" or "HandOver"
	sigs   chan os.Signal
	cancel context.CancelFunc
	took   bool
}

func (h *interruptAt) raise() {
	_ = unix.Kill(os.Getpid(), unix.SIGTERM)
	<-h.sigs
}

func (h *interruptAt) SetupDone() {
	if h.moment == "SetupDone" {
		h.raise()
		h.took = true
	}
}

func (h *interruptAt) HandOver() {
	if h.took {
		h.cancel()
	}
	if h.moment == "HandOver" {
		h.raise()
	}
}

func (h *interruptAt) Ran() {}

// TestRun_EveryInterruptIsTheSetupsOrRelayed sends a SIGTERM where the
// setup's signal handling ends and the runtime's relay begins: one the
// setup took (after it stopped for a SIGTSTP, say) must stop the run before
// anything starts, even if its handler cancels the run late; one that comes
// once the runtime catches the signals must reach the container (killed:
// no --sig-proxy). Neither may be lost, and nothing is left either way.
func TestRun_EveryInterruptIsTheSetupsOrRelayed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs containers: needs root")
	}
	rootfs := busyboxRootfs(t)
	for _, tc := range []struct {
		moment string
		cmd    []string
		want   string
		code   int
	}{
		{"SetupDone", []string{"true"}, "container not started", -1},
		{"HandOver", []string{"busybox", "sleep", "30"}, "", 128 + int(unix.SIGKILL)},
	} {
		t.Run("a SIGTERM at "+tc.moment, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h := &interruptAt{moment: tc.moment, sigs: make(chan os.Signal, 1), cancel: cancel}
			signal.Notify(h.sigs, unix.SIGTERM)
			defer signal.Stop(h.sigs)
			store := &fakeImages{rootfs: rootfs}
			var log bytes.Buffer
			logger := logrus.New()
			logger.SetOutput(&log)
			n := &Node{Caller: &policy.Caller{Name: "root", Home: "/root"}, Policy: policy.Default(), State: t.TempDir(), Images: store, Log: logger, Setup: h}
			req := &spec.Request{Image: "busybox", Network: "host", Cmd: tc.cmd}
			code, err := n.Run(ctx, req, Options{Pull: images.PullMissing}, runtime.IO{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("failed: %v\n%s", err, log.String())
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error naming %q, got %v (exit %d): the interrupt was lost", tc.want, err, code)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			nothingLeft(t, n, store, log.String())
		})
	}
}
