package runtime

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/moby/sys/capability"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/exeseal"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// JobHelpers are the programs and the cache that speed up a job
// container's start, and an OCI container's (OCIOptions.Helpers); nil
// uses none. Init is the small libcontainer init (dockless-runinit,
// initexec.go).
//
// With Loader (dockless-init) and SeccompCache, a job container's seccomp
// filter is compiled once per profile and loaded by dockless-init's
// loader, instead of compiled by libseccomp in every container's init
// (about 17 ms a start for docker's profile, on a 2-core node).
//
// The program is the very one libcontainer would load: a child dockless
// runs libcontainer's own seccomp.InitSeccomp on one of its threads, and
// dockless reads the filter back from the kernel
// (PTRACE_SECCOMP_GET_FILTER). It is kept in SeccompCache, root's, under a
// hash of the profile, the boot, libseccomp's version and the runc module
// dockless embeds. libcontainer executes a sealed copy of the loader in
// place of the user's command, and it finds the command, loads the filter
// and executes the command, as libcontainer's init would have
// (cmd/dockless-init/loader.c).
//
// libcontainer leaves the loader, on top of the process's capabilities,
// CAP_SYS_ADMIN (loading a filter takes it without no_new_privileges),
// CAP_SETPCAP and a capability no other process of the container can have,
// which keeps them from tracing it before the filter is in place; the
// loader then sets the process's own (loaderCaps).
//
// A container the loader cannot stand for is left to libcontainer: notify
// actions or a listener, an SELinux label or AppArmor profile (whose exec
// transition would apply to the loader), a bounding set with every
// capability (no guard is left), or a compile that failed (the reason is
// logged at debug level).
type JobHelpers struct {
	SeccompCache string
	Loader       string
	Init         string
}

// loaderFilter is what the processes of a container whose filter the
// loader loads start with (prepare): the compiled filter, "flags:program"
// (hex), and the loader's path. It is kept beside libcontainer's state
// (filterFile), and every process started in the container (Exec,
// OCIExec) goes through the loader with it: the container's libcontainer
// config has no seccomp of its own. It is not a label of the config:
// libcontainer would show labels to the hooks as the state's annotations.
type loaderFilter struct {
	Filter string `json:"filter"`
	Loader string `json:"loader"`
}

// filterFile holds a container's loaderFilter.
const filterFile = "dockless-seccomp.json"

// seccompLabel and seccompLoaderLabel held the loaderFilter of a container
// made by an earlier dockless, as labels of its config: throughLoader
// still reads them, so that a process started in such a container, still
// running when the node's dockless was upgraded, gets its filter. A
// spec's annotations become labels too: convert refuses these names there
// (reservedAnnotation).
const (
	seccompLabel       = "dockless.seccomp="
	seccompLoaderLabel = "dockless.seccomp-loader="
)

// reservedAnnotation reports whether a spec may not carry annotation name:
// dockless's own labels.
func reservedAnnotation(name string) bool { return strings.HasPrefix(name, "dockless.seccomp") }

// seccompCompileArg is the argument of the compile child (SeccompCompile).
const seccompCompileArg = "seccomp-compile"

// IsSeccompCompile reports whether this process is the compile child;
// main must then call SeccompCompile before anything else.
func IsSeccompCompile() bool { return len(os.Args) > 1 && os.Args[1] == seccompCompileArg }

// SeccompCompile is the compile child: it reads a libcontainer seccomp
// config on stdin, writes the id of the thread that will hold the filter,
// loads the filter on that thread with libcontainer's InitSeccomp, and
// waits, for its parent to read the filter and kill it. It never returns.
func SeccompCompile() {
	if SecureExec() {
		fmt.Fprintln(os.Stderr, "dockless: refused: the seccomp compiler is started only by dockless itself")
		os.Exit(125)
	}
	goruntime.LockOSThread()
	var sc configs.Seccomp
	if err := json.NewDecoder(os.Stdin).Decode(&sc); err != nil {
		fmt.Fprintln(os.Stderr, "reading the seccomp config:", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", unix.Gettid())
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "no_new_privs:", err)
		os.Exit(1)
	}
	if _, err := seccomp.InitSeccomp(&sc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Only what the filter allows from here: the parent never writes, and
	// closes stdin only when it is gone.
	var b [1]byte
	for {
		if n, err := unix.Read(0, b[:]); n == 0 && err == nil {
			os.Exit(0)
		}
	}
}

// prepare has cfg's seccomp filter loaded by the loader, when it can: it
// takes the seccomp config out of cfg and returns the compiled filter,
// which saveFilter keeps once the container exists (nil: libcontainer
// loads the filter as configured).
func (h *JobHelpers) prepare(cfg *configs.Config) *loaderFilter {
	if h == nil || h.Loader == "" || cfg.Seccomp == nil || !loadable(cfg.Seccomp) {
		return nil
	}
	if cfg.ProcessLabel != "" || cfg.AppArmorProfile != "" {
		// Their exec transition would apply to the loader's exec (from a
		// memory file), not the command's: untested where they are enforced.
		return nil
	}
	if cfg.Namespaces.Contains(configs.NEWUSER) || !cfg.Namespaces.Contains(configs.NEWPID) || cfg.Namespaces.PathOf(configs.NEWPID) != "" {
		// The guard capability (loaderCaps) keeps the processes of the
		// container itself from tracing the loader before its filter is
		// in place: in a user namespace a capability there would be
		// enough, and in a PID namespace shared with another container
		// (OCI configs can ask for both) that one's processes could.
		// Job containers have neither.
		return nil
	}
	if len(cfg.Hooks[configs.StartContainer]) > 0 {
		// libcontainer's init runs them under the filter it loaded: the
		// loader loads it only when it executes the process, after them.
		return nil
	}
	if cfg.Capabilities != nil {
		if _, ok := guardCap(cfg.Capabilities.Bounding); !ok {
			return nil
		}
	}
	arg, err := h.compiled(cfg.Seccomp)
	if err != nil {
		logrus.Debugf("seccomp: the filter is compiled in the container's init: %v", err)
		return nil
	}
	cfg.Seccomp = nil
	flags, _, _ := strings.Cut(arg, ":")
	// libcontainer's own line when its init loads a filter, which runc's
	// tests read: the loader loads it with the same flags.
	logrus.Debugf("seccomp filter flags: %s", flags)
	return &loaderFilter{Filter: arg, Loader: h.Loader}
}

// saveFilter keeps f with container id's state (nothing when f is nil).
func saveFilter(root, id string, f *loaderFilter) error {
	if f == nil {
		return nil
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, id, filterFile), raw, 0o600)
}

// loadFilter returns the loaderFilter of the container whose state is in
// dir and whose config has labels: the one saveFilter kept, or the labels
// of a container an earlier dockless made; nil when libcontainer loads
// the container's filter itself.
func loadFilter(dir string, labels []string) (*loaderFilter, error) {
	raw, err := os.ReadFile(filepath.Join(dir, filterFile))
	if err == nil {
		var f loaderFilter
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", filterFile, err)
		}
		return &f, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var f loaderFilter
	for _, l := range labels {
		if v, ok := strings.CutPrefix(l, seccompLabel); ok {
			f.Filter = v
		} else if v, ok := strings.CutPrefix(l, seccompLoaderLabel); ok {
			f.Loader = v
		}
	}
	if f.Filter == "" {
		return nil, nil
	}
	return &f, nil
}

// loadable reports whether the loader can load sc's filter: no notify
// action (its listener descriptor goes to libcontainer's parent).
func loadable(sc *configs.Seccomp) bool {
	if sc.DefaultAction == configs.Notify || sc.ListenerPath != "" {
		return false
	}
	for _, s := range sc.Syscalls {
		if s.Action == configs.Notify {
			return false
		}
	}
	return true
}

// compiled is sc's filter as the loader takes it ("flags:hex"), from the
// cache or compiled now.
func (h *JobHelpers) compiled(sc *configs.Seccomp) (string, error) {
	path := filepath.Join(h.SeccompCache, seccompKey(sc))
	if b, err := os.ReadFile(path); err == nil {
		arg := string(b)
		if why, failed := strings.CutPrefix(arg, uncompilable); failed && retryAfter(path) > 0 {
			return "", errors.New(why)
		}
		if validFilterArg(arg) {
			return arg, nil
		}
	}
	pruneCache(h.SeccompCache)
	raw, err := json.Marshal(sc)
	if err != nil {
		return "", err
	}
	arg, err := compileArg(sc, raw)
	if err != nil {
		// Not tried again for uncompilableFor: every start would pay for it.
		arg = uncompilable + err.Error()
	}
	if werr := writeCached(h.SeccompCache, path, arg); werr != nil {
		logrus.Debugf("seccomp: keeping the compiled filter: %v", werr)
	}
	return arg, err
}

// uncompilable starts a cache entry that records why a profile could not
// be compiled here (no CONFIG_CHECKPOINT_RESTORE; no ptrace, or dockless
// itself traced): libcontainer compiles that profile in each init, and
// dockless tries again once uncompilableFor has passed.
const (
	uncompilable    = "!"
	uncompilableFor = 10 * time.Minute
)

// retryAfter is how long the entry at path is still to be believed.
func retryAfter(path string) time.Duration {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return uncompilableFor - time.Since(fi.ModTime())
}

// compileArg compiles sc (raw: its JSON) into the loader's argument.
func compileArg(sc *configs.Seccomp, raw []byte) (string, error) {
	flags, err := filterFlags(sc)
	if err != nil {
		return "", err
	}
	prog, err := compileFilter(raw)
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(uint64(flags), 10) + ":" + hex.EncodeToString(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*int(unsafe.Sizeof(prog[0])))), nil
}

// pruneCache removes the entries of earlier boots (their keys hold the
// boot's id: never read again) and temporary files a killed dockless left.
func pruneCache(dir string) {
	var info unix.Sysinfo_t
	if unix.Sysinfo(&info) != nil {
		return
	}
	booted := time.Now().Add(-time.Duration(info.Uptime) * time.Second)
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		fi, err := en.Info()
		if err != nil {
			continue
		}
		stale := fi.ModTime().Before(booted.Add(-time.Minute))
		if strings.HasPrefix(en.Name(), ".tmp-") {
			stale = time.Since(fi.ModTime()) > time.Minute
		}
		if stale {
			_ = os.Remove(filepath.Join(dir, en.Name()))
		}
	}
}

// seccompKey names a compiled filter: what its program depends on.
func seccompKey(sc *configs.Seccomp) string {
	h := sha256.New()
	h.Write(seccompIdentity(sc))
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	maj, mid, mic := libseccomp.GetLibraryVersion()
	fmt.Fprintf(h, "\x00%s\x00libseccomp %d.%d.%d\x00", bytes.TrimSpace(boot), maj, mid, mic)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/opencontainers/runc" || d.Path == "github.com/seccomp/libseccomp-golang" {
				fmt.Fprintf(h, "%s@%s\x00", d.Path, d.Version)
				if r := d.Replace; r != nil {
					fmt.Fprintf(h, "=> %s@%s\x00", r.Path, r.Version)
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// seccompIdentity is every field of sc in a canonical binary form, for
// the cache key: the JSON encoding said the same, but reflecting over a
// profile of some 400 rules cost every start about 2 ms
// (TestSeccompIdentity_CoversEveryField checks that no field is left out).
func seccompIdentity(sc *configs.Seccomp) []byte {
	b := make([]byte, 0, 16<<10)
	num := func(n uint64) { b = binary.AppendUvarint(b, n) }
	str := func(s string) { num(uint64(len(s))); b = append(b, s...) }
	// present marks whether a pointer is set, and reports it.
	present := func(ok bool) bool {
		if ok {
			num(1)
		} else {
			num(0)
		}
		return ok
	}
	opt := func(p *uint) {
		if present(p != nil) {
			num(uint64(*p))
		}
	}
	num(uint64(sc.DefaultAction))
	opt(sc.DefaultErrnoRet)
	num(uint64(len(sc.Architectures)))
	for _, a := range sc.Architectures {
		str(a)
	}
	num(uint64(len(sc.Flags)))
	for _, f := range sc.Flags {
		str(string(f))
	}
	str(sc.ListenerPath)
	str(sc.ListenerMetadata)
	num(uint64(len(sc.Syscalls)))
	for _, c := range sc.Syscalls {
		if !present(c != nil) {
			continue
		}
		str(c.Name)
		num(uint64(c.Action))
		opt(c.ErrnoRet)
		num(uint64(len(c.Args)))
		for _, a := range c.Args {
			if present(a != nil) {
				num(uint64(a.Index))
				num(a.Value)
				num(a.ValueTwo)
				num(uint64(a.Op))
			}
		}
	}
	return b
}

// validFilterArg reports whether arg is "flags:program" with a program of
// 1 to BPF_MAXINSNS (4096) instructions of 8 bytes.
func validFilterArg(arg string) bool {
	flags, prog, ok := strings.Cut(arg, ":")
	if !ok {
		return false
	}
	if _, err := strconv.ParseUint(flags, 10, 32); err != nil {
		return false
	}
	if len(prog) == 0 || len(prog)%16 != 0 || len(prog) > 4096*16 {
		return false
	}
	for _, c := range prog {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// writeCached keeps arg at path, whole or not at all.
func writeCached(dir, path, arg string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(arg); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// filterFlags are the SECCOMP_FILTER_FLAG_* runc's patchbpf loads the
// filter with: those the config asks for that libseccomp's API level
// supports.
func filterFlags(sc *configs.Seccomp) (uint, error) {
	api, _ := libseccomp.GetAPI()
	var flags uint
	for _, f := range sc.Flags {
		switch {
		case f == specs.LinuxSeccompFlagLog && api >= 3:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case f == specs.LinuxSeccompFlagSpecAllow && api >= 4:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case f == specs.LinuxSeccompFlagWaitKillableRecv && api >= 7:
			flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		case f == specs.LinuxSeccompFlagLog, f == specs.LinuxSeccompFlagSpecAllow, f == specs.LinuxSeccompFlagWaitKillableRecv, f == "SECCOMP_FILTER_FLAG_TSYNC":
		default:
			return 0, fmt.Errorf("seccomp flag %q", f)
		}
	}
	return flags, nil
}

// compileTimeout bounds a compile child.
const compileTimeout = 10 * time.Second

// compileFilter runs the compile child on config (libcontainer's seccomp
// config, JSON) and reads back the filter it loaded.
func compileFilter(config []byte) ([]unix.SockFilter, error) {
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer stdinW.Close()
	cmd := exec.Command("/proc/self/exe", seccompCompileArg)
	cmd.Args[0] = os.Args[0]
	cmd.Env = []string{}
	cmd.Stdin = stdinR
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdinR.Close()
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	stdinR.Close()
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if _, err := stdinW.Write(config); err != nil {
		return nil, fmt.Errorf("the compile child: %v: %s", err, stderr.String())
	}
	var tid int
	if _, err := fmt.Fscanln(bufio.NewReader(stdout), &tid); err != nil {
		return nil, fmt.Errorf("the compile child: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	if err := waitFiltered(cmd.Process.Pid, tid); err != nil {
		return nil, fmt.Errorf("the compile child: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return readFilter(tid)
}

// waitFiltered waits until thread tid of pid runs under a seccomp filter.
func waitFiltered(pid, tid int) error {
	status := fmt.Sprintf("/proc/%d/task/%d/status", pid, tid)
	deadline := time.Now().Add(compileTimeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(status)
		if err != nil {
			return errors.New("it ended before its filter was loaded")
		}
		if bytes.Contains(b, []byte("\nSeccomp:\t2\n")) {
			return nil
		}
		if bytes.Contains(b, []byte("\nState:\tZ")) {
			return errors.New("it ended before its filter was loaded")
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("it took too long")
}

// readFilter reads the newest seccomp filter of thread tid
// (PTRACE_SECCOMP_GET_FILTER: the kernel keeps the program as loaded
// where it was built with CONFIG_CHECKPOINT_RESTORE).
func readFilter(tid int) ([]unix.SockFilter, error) {
	goruntime.LockOSThread() // every ptrace request comes from the tracer thread
	defer goruntime.UnlockOSThread()
	if err := unix.PtraceSeize(tid); err != nil {
		return nil, fmt.Errorf("ptrace: %w", err)
	}
	defer unix.PtraceDetach(tid) //nolint:errcheck // the child is killed next
	if err := unix.PtraceInterrupt(tid); err != nil {
		return nil, fmt.Errorf("ptrace interrupt: %w", err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(tid, &ws, unix.WALL, nil); err != nil {
		return nil, fmt.Errorf("waiting for the compile child: %w", err)
	}
	n, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), 0, 0, 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("reading the filter (PTRACE_SECCOMP_GET_FILTER): %w", errno)
	}
	if n == 0 || n > 4096 {
		return nil, fmt.Errorf("reading the filter: %d instructions", n)
	}
	prog := make([]unix.SockFilter, n)
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), 0, uintptr(unsafe.Pointer(&prog[0])), 0, 0); errno != 0 {
		return nil, fmt.Errorf("reading the filter (PTRACE_SECCOMP_GET_FILTER): %w", errno)
	}
	return prog, nil
}

// throughLoader has process load its container's filter through the
// loader, when the container's loaderFilter says so (prepare, loadFilter):
// its arguments become the loader's, run from a sealed copy, which holds
// the filter after the loader's own program, passed as its last extra
// descriptor; through says so. release closes dockless's copy once the
// process started.
func throughLoader(root string, c *libcontainer.Container, process *libcontainer.Process) (release func(), through bool, err error) {
	lf, err := loadFilter(filepath.Join(root, c.ID()), c.Config().Labels)
	if err != nil {
		return nil, false, err
	}
	if lf == nil {
		return func() {}, false, nil
	}
	filter, loader := lf.Filter, lf.Loader
	if process.Label != "" || process.AppArmorProfile != "" {
		return nil, false, errors.New("a process with an SELinux label or an AppArmor profile of its own cannot start in a container whose seccomp filter dockless-init loads")
	}
	flags, prog, _ := strings.Cut(filter, ":")
	program, err := hex.DecodeString(prog)
	if err != nil || !validFilterArg(filter) {
		return nil, false, errors.New("the container's seccomp filter is damaged")
	}
	caps, err := loaderCaps(c.Config(), process)
	if err != nil {
		return nil, false, err
	}
	f, err := openLoader(loader)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	sealed, err := sealLoader(f, st.Size(), program)
	if err != nil {
		return nil, false, fmt.Errorf("sealing the container's seccomp loader: %w", err)
	}
	process.ExtraFiles = append(process.ExtraFiles, sealed)
	fd := 3 + len(process.ExtraFiles) - 1
	where := fmt.Sprintf("%d+%d", st.Size(), len(program))
	process.Args = append([]string{"/proc/self/fd/" + strconv.Itoa(fd), "--seccomp", flags, where, caps, "--"}, process.Args...)
	return func() { sealed.Close() }, true, nil
}

// sealLoader is a sealed memory copy of the loader (size bytes of f)
// followed by program, copied by the kernel (sendfile) where it can make
// one (runc's CloneBinary, the fallback, copies through a buffer).
func sealLoader(f *os.File, size int64, program []byte) (*os.File, error) {
	mem, seal, err := exeseal.Memfd(filepath.Base(f.Name()))
	if err != nil {
		return exeseal.CloneBinary(io.MultiReader(f, bytes.NewReader(program)), size+int64(len(program)), f.Name(), os.TempDir())
	}
	for done := int64(0); done < size; {
		n, err := unix.Sendfile(int(mem.Fd()), int(f.Fd()), nil, int(size-done))
		if err == nil && n == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			mem.Close()
			return nil, fmt.Errorf("copying %s: %w", f.Name(), err)
		}
		done += int64(n)
	}
	if _, err := mem.Write(program); err != nil {
		mem.Close()
		return nil, err
	}
	if err := seal(&mem); err != nil {
		mem.Close()
		return nil, err
	}
	return mem, nil
}

// openLoader opens the loader, which must be root's and writable by no one
// else, as its directory (as dockless-init for --init).
func openLoader(path string) (*os.File, error) {
	for _, p := range []string{filepath.Dir(path), path} {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return nil, fmt.Errorf("the container's seccomp loader: %w", err)
		}
		if st.Uid != 0 || st.Mode&0o022 != 0 {
			return nil, fmt.Errorf("the container's seccomp loader %s: %s is not root's alone", path, p)
		}
	}
	return os.Open(path)
}

// loaderCaps is the loader's CAPS argument for process in a container
// configured with cfg: the process's bounding, inheritable and ambient
// sets as masks. process's capabilities then get, in every set (ambient
// and inheritable too, which carry them across the exec of the loader for
// a user other than root), what the loader holds until the filter is in
// place: CAP_SYS_ADMIN to load it without no_new_privileges, CAP_SETPCAP
// to drop from the bounding set, and a guard, a capability outside the
// process's and the container's bounding sets, which no other process of
// the container can have: the kernel lets only a tracer that holds all of
// a process's capabilities (or CAP_SYS_PTRACE) trace it or write its
// memory, so none can stop the loader from loading the filter.
func loaderCaps(cfg configs.Config, process *libcontainer.Process) (string, error) {
	own := cfg.Capabilities
	if process.Capabilities != nil {
		own = process.Capabilities
	}
	if own == nil {
		own = &configs.Capabilities{}
	}
	var containers []string
	if cfg.Capabilities != nil {
		containers = cfg.Capabilities.Bounding
	}
	guard, ok := guardCap(append(slices.Clone(own.Bounding), containers...))
	if !ok {
		return "", errors.New("a process with every capability cannot start in a container whose seccomp filter dockless-init loads")
	}
	arg := fmt.Sprintf("%x:%x:%x", capMask(own.Bounding), capMask(own.Inheritable), capMask(own.Ambient))
	extra := []string{"CAP_SYS_ADMIN", "CAP_SETPCAP", guard}
	with := func(set []string) []string {
		out := slices.Clone(set)
		for _, c := range extra {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		return out
	}
	process.Capabilities = &configs.Capabilities{
		Bounding: with(own.Bounding), Effective: with(own.Effective), Permitted: with(own.Permitted),
		Inheritable: with(own.Inheritable), Ambient: with(own.Ambient),
	}
	return arg, nil
}

// guardCap is a capability the kernel knows that bounding lacks:
// CAP_SYS_ADMIN where it can be, else the highest.
func guardCap(bounding []string) (string, bool) {
	if !slices.Contains(bounding, "CAP_SYS_ADMIN") {
		return "CAP_SYS_ADMIN", true
	}
	known := knownCaps()
	for i := len(known) - 1; i >= 0; i-- {
		if name := capName(known[i]); !slices.Contains(bounding, name) {
			return name, true
		}
	}
	return "", false
}

func knownCaps() []capability.Cap {
	known, err := capability.ListSupported()
	if err != nil {
		known = capability.ListKnown()
	}
	return known
}

func capName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// capMask is names as a mask of capability numbers; a name the kernel
// does not know is left out, as libcontainer leaves it out.
func capMask(names []string) uint64 {
	var m uint64
	for _, c := range knownCaps() {
		if slices.Contains(names, capName(c)) {
			m |= 1 << uint(c)
		}
	}
	return m
}
