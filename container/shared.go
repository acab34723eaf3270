package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A shared container is the per-host container of an LSF parallel job:
// the first of its tasks on the host to come makes it, with a holder as
// its process (spec.WithHolder), the others join it (its mount, IPC, PID
// and UTS namespaces, its cgroup), and the last to leave removes it. Its
// state on the node is <state>/lsf/<key>/: create.lock, which whoever
// makes, joins, leaves or reaps it holds exclusively; alive.lock, which
// every member holds shared while it runs; id, the container's ID. Both
// are flocks, which die with their process: a member killed at any point
// has left, and the next one to come finds the container without members
// or its holder dead, removes it and makes a new one.

// ParallelAnnotation marks a shared container's spec (site hooks match it).
const ParallelAnnotation = "io.dockless.lsf.parallel"

// Member is one process of a shared container.
type Member struct {
	// Key names the container on the node (the job: lsf.JobKey).
	Key string
	// Cgroups are the member's cgroups by hierarchy (/proc/self/cgroup):
	// the creator's are the job's, which every other member must be in.
	Cgroups map[string]string
	// CPUs are the CPUs its process runs on (a cpuset list; "": as is).
	CPUs string
}

// CurrentMember is this process as a member of the container key: its
// cgroups and its CPU affinity (the mask LSF gave the task).
func CurrentMember(key string) (Member, error) {
	m := Member{Key: key, Cgroups: map[string]string{}}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return m, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if parts := strings.SplitN(s.Text(), ":", 3); len(parts) == 3 {
			m.Cgroups[parts[1]] = parts[2]
		}
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return m, err
	}
	m.CPUs = cpuList(&set)
	return m, s.Err()
}

// cpuList writes a CPU set in the kernel's list format ("0-2,5").
func cpuList(set *unix.CPUSet) string {
	var out []string
	for cpu, n := 0, len(set)*64; cpu < n; cpu++ {
		if !set.IsSet(cpu) {
			continue
		}
		end := cpu
		for end+1 < n && set.IsSet(end+1) {
			end++
		}
		if end == cpu {
			out = append(out, strconv.Itoa(cpu))
		} else {
			out = append(out, strconv.Itoa(cpu)+"-"+strconv.Itoa(end))
		}
		cpu = end
	}
	return strings.Join(out, ",")
}

// RunMember runs req's process in the shared container m.Key, making the
// container if it does not exist, and returns the process's exit status.
// The process is the caller's own (its command, environment, working
// directory, stdio and CPUs) and gets the signals dockless gets; the
// container leaves with the last member.
func (n *Node) RunMember(ctx context.Context, req *spec.Request, opts Options, m Member, stdio runtime.IO) (int, error) {
	if err := n.Policy.Apply(req, n.Caller); err != nil {
		return -1, err
	}
	if err := n.Policy.Check(req, n.Caller); err != nil {
		return -1, err
	}
	locks, err := n.lockShared(m.Key, true, true)
	if err != nil {
		return -1, err
	}
	rec, err := n.enterShared(ctx, req, opts, &m, locks)
	locks.unlock()
	if err != nil {
		return -1, err
	}
	defer n.leaveShared(rec, locks.alive)
	p, err := n.memberProcess(rec, req, m)
	if err != nil {
		return -1, err
	}
	exit, err := runtime.Exec(n.runcRoot(), rec.ID, p, stdio, n.relaying(ctx), nil)
	n.ran()
	return exit.Code, err
}

// sharedLocks are the lock files of one shared container.
type sharedLocks struct {
	dir    string
	create *os.File
	// alive is the member's shared lock while it is one.
	alive *os.File
}

// errGone: the key's state directory is not there (lockShared without
// create).
var errGone = errors.New("no job container")

// lockShared takes create.lock of key (wait: block until free; else fail
// at once), making the key's directory if create (else errGone when it is
// not there). The last member removes the directory while it holds the
// lock: a lock taken on a file no longer there is taken again.
func (n *Node) lockShared(key string, wait, create bool) (*sharedLocks, error) {
	dir := filepath.Join(n.State, "lsf", key)
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		if !create {
			if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
				return nil, errGone
			}
		} else if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("the job container's state: %w", err)
		}
		path := filepath.Join(dir, "create.lock")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("the job container's state: %w", err)
		}
		if err := flock(f, how); err != nil {
			f.Close()
			return nil, err
		}
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &now) == nil && held.Ino == now.Ino && held.Dev == now.Dev {
			return &sharedLocks{dir: dir, create: f}, nil
		}
		f.Close()
	}
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func (l *sharedLocks) unlock() { l.create.Close() }

// join takes alive.lock shared: the caller is a member from now on.
func (l *sharedLocks) join() error {
	f, err := os.OpenFile(filepath.Join(l.dir, "alive.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		err = flock(f, unix.LOCK_SH)
	}
	if err != nil {
		return fmt.Errorf("joining the job container: %w", err)
	}
	l.alive = f
	return nil
}

// unused reports whether no member holds alive.lock.
func (l *sharedLocks) unused() bool {
	f, err := os.OpenFile(filepath.Join(l.dir, "alive.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// sharedContainer is the record of the container the locks are of (nil:
// none).
func (n *Node) sharedContainer(l *sharedLocks) *Record {
	id, err := os.ReadFile(filepath.Join(l.dir, "id"))
	if err != nil {
		return nil
	}
	r, err := n.readRecord(string(id))
	if err != nil {
		return &Record{ID: string(id)}
	}
	return r
}

// live reports whether r, a shared container, runs (or is frozen: a job
// that bstop suspended) and has members.
func (n *Node) live(r *Record, l *sharedLocks) bool {
	st, err := runtime.State(n.runcRoot(), r.ID)
	return err == nil && (st.State == "running" || st.State == "paused") && st.Pid == r.InitPid && !l.unused()
}

// enterShared, with create.lock held, joins the live container of m.Key if
// the caller may, or else removes what is left of a dead one and makes a
// new one. The caller is a member when it returns without an error.
func (n *Node) enterShared(ctx context.Context, req *spec.Request, opts Options, m *Member, l *sharedLocks) (*Record, error) {
	if r := n.sharedContainer(l); r != nil {
		if n.live(r, l) {
			if err := n.mayJoin(r, m); err != nil {
				return nil, err
			}
			return r, l.join()
		}
		n.Log.Infof("removing the job container %s of %s: its holder or its last member died", r.ID, m.Key)
		if err := n.remove(r); err != nil {
			return nil, err
		}
		if err := os.Remove(filepath.Join(l.dir, "id")); err != nil {
			return nil, err
		}
	}
	// A member from before the record exists: a Reap of another dockless
	// finds the container in use.
	if err := l.join(); err != nil {
		return nil, err
	}
	r, err := n.createShared(ctx, req, opts, m, l)
	if err != nil {
		l.alive.Close()
		if l.unused() {
			_ = os.RemoveAll(l.dir)
		}
		return nil, err
	}
	return r, nil
}

// mayJoin is the rule of who joins a shared container: its owner's tasks,
// in the cgroups of its creator (the job's cgroup on this host, which only
// LSF puts processes in). The job's variables only name the container.
func (n *Node) mayJoin(r *Record, m *Member) error {
	if r.Owner != n.Caller.UID {
		return fmt.Errorf("refused: the container of LSF job %s on this host is another user's (uid %d): a task joins only the job container of its own user (dockless lsf task, the job's uid and cgroup)", m.Key, r.Owner)
	}
	if !insideCgroups(m.Cgroups, r.JobCgroups) {
		return fmt.Errorf("refused: this process is not in the cgroup of LSF job %s on this host (%s): only the job's own tasks, which LSF starts in its cgroup (blaunch), join its container; LSB_JOBID alone lets no process in", m.Key, describeCgroups(r.JobCgroups))
	}
	return nil
}

// insideCgroups reports whether every cgroup of job has its counterpart in
// member at or below it.
func insideCgroups(member, job map[string]string) bool {
	for h, jp := range job {
		mp, ok := member[h]
		if !ok || !(mp == jp || jp == "/" || strings.HasPrefix(mp, strings.TrimSuffix(jp, "/")+"/")) {
			return false
		}
	}
	return true
}

func describeCgroups(cg map[string]string) string {
	var out []string
	for h, p := range cg {
		if p != "/" {
			out = append(out, h+":"+p)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// createShared makes the container: the steps of Run, then the holder
// instead of the process. The snapshot, mounts and state stay until the
// last member leaves; only the image's hold goes.
func (n *Node) createShared(ctx context.Context, req *spec.Request, opts Options, m *Member, locks *sharedLocks) (*Record, error) {
	n.reap()
	l, err := n.newLaunch(req, opts)
	if err != nil {
		return nil, err
	}
	l.member, l.holder = m, true
	l.req.Annotations = maps.Clone(l.req.Annotations)
	if l.req.Annotations == nil {
		l.req.Annotations = map[string]string{}
	}
	l.req.Annotations[ParallelAnnotation] = "true"
	undo, err := l.setup(ctx)
	if err == nil {
		err = l.hold(locks)
	}
	if err != nil {
		undo()
		return nil, err
	}
	if err := n.Images.Unhold(ctx, l.img); err != nil {
		n.Log.Warnf("%v", err)
	}
	return l.rec, nil
}

// hold starts the holder and records the container for its members.
func (l *launch) hold(locks *sharedLocks) error {
	n := l.n
	b, err := json.Marshal(l.img.Config)
	if err == nil {
		err = os.WriteFile(filepath.Join(l.dir, "image.json"), b, 0o600)
	}
	if err != nil {
		return err
	}
	n.setupDone()
	n.Log.Infof("starting job container %s (%s) for %s", l.name, l.id, l.member.Key)
	pid, err := runtime.Hold(n.runcRoot(), l.id, l.spec)
	if err != nil {
		return err
	}
	l.rec.InitPid = pid
	err = n.writeRecord(l.rec)
	if err == nil {
		err = os.WriteFile(filepath.Join(locks.dir, "id"), []byte(l.id), 0o600)
	}
	if err != nil {
		_ = runtime.Destroy(n.runcRoot(), l.id)
	}
	return err
}

// memberProcess is the member's own process in the container r: its
// request built against the container's image, with its CPUs.
func (n *Node) memberProcess(r *Record, req *spec.Request, m Member) (*specs.Process, error) {
	var cfg ocispec.Image
	b, err := os.ReadFile(filepath.Join(n.dir(r.ID), "image.json"))
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("the job container %s: %w", r.ID, err)
	}
	l, err := n.newLaunch(req, Options{})
	if err != nil {
		return nil, err
	}
	l.img = &images.Image{Name: r.Image, Config: cfg}
	l.host.Rootfs, l.host.EtcDir = filepath.Join(n.dir(r.ID), "rootfs"), n.dir(r.ID)
	s, err := l.build()
	if err != nil {
		return nil, err
	}
	if m.CPUs != "" {
		s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: m.CPUs, Final: m.CPUs}
	}
	return s.Process, nil
}

// leaveShared ends the membership of r (alive: the member's lock); the
// last member removes it.
func (n *Node) leaveShared(r *Record, alive *os.File) {
	alive.Close()
	l, err := n.lockShared(r.Shared, true, false)
	if errors.Is(err, errGone) {
		return // another member removed it
	}
	if err != nil {
		n.Log.Warnf("leaving the job container %s: %v", r.ID, err)
		return
	}
	defer l.unlock()
	cur := n.sharedContainer(l)
	switch {
	case cur != nil && cur.ID != r.ID || !l.unused():
		return
	case cur == nil: // removed by a task that found its holder dead
		_ = os.RemoveAll(l.dir)
		return
	}
	if err := n.removeShared(r, l); err != nil {
		n.Log.Errorf("removing the job container %s: %v", r.ID, err)
	}
}

// removeShared removes the container r and its key's state, with
// create.lock held.
func (n *Node) removeShared(r *Record, l *sharedLocks) error {
	if err := n.remove(r); err != nil {
		return err
	}
	return os.RemoveAll(l.dir)
}

// reapShared removes the shared container r if it is not in use: no one
// holds its create.lock, and it has no members or its holder died.
func (n *Node) reapShared(r *Record) (bool, error) {
	l, err := n.lockShared(r.Shared, false, false)
	if errors.Is(err, errGone) {
		return true, n.remove(r)
	}
	if err != nil {
		return false, nil // in use: being made, joined or left
	}
	defer l.unlock()
	if cur := n.sharedContainer(l); cur != nil && cur.ID == r.ID && n.live(r, l) {
		return false, nil
	}
	if cur := n.sharedContainer(l); cur != nil && cur.ID != r.ID {
		return true, n.remove(r)
	}
	return true, n.removeShared(r, l)
}
