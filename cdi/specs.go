package cdi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	cdilib "tags.cncf.io/container-device-interface/pkg/cdi"
)

// The policy keys the refusals name.
const (
	specRule = "[gpu] cdi_spec_dirs"
	hookRule = "[gpu] allowed_hooks"
)

// Specs are the node's CDI specs that dockless trusts.
type Specs struct {
	cache *cdilib.Cache
	// Dirs are the spec directories, in priority order.
	Dirs []string
	// AllowedHooks are the only programs a spec may run as a hook.
	AllowedHooks []string
	// Problems are the spec files that could not be used (they do not
	// parse, or define a device twice), one line each.
	Problems []string
}

// Load reads the CDI specs of dirs (a later directory wins a device both
// define). Each directory that exists and each spec file in it must be
// owned by root and not writable by group or others, or Load refuses
// them all, naming the file: a spec names what root mounts into
// containers and runs for them.
func Load(dirs, allowedHooks []string) (*Specs, error) {
	s := &Specs{Dirs: dirs, AllowedHooks: allowedHooks}
	if len(dirs) == 0 {
		return s, nil
	}
	for _, d := range dirs {
		if err := checkDir(d); err != nil {
			return nil, err
		}
	}
	s.cache, _ = cdilib.NewCache(cdilib.WithSpecDirs(dirs...), cdilib.WithAutoRefresh(false))
	for path, errs := range s.cache.GetErrors() {
		s.Problems = append(s.Problems, fmt.Sprintf("CDI spec %s: %v", path, errors.Join(errs...)))
	}
	sort.Strings(s.Problems)
	return s, nil
}

// checkDir refuses a spec directory, or a spec file in it, that someone
// but root could change.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CDI spec directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("CDI spec directory %s: not a directory ([gpu] cdi_spec_dirs)", dir)
	}
	if err := rootsAlone("CDI spec directory", specRule, dir, st); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("CDI spec directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); e.IsDir() || (ext != ".json" && ext != ".yaml") {
			continue
		}
		if err := checkFile("CDI spec", specRule, filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// checkFile refuses a file that someone but root could change, itself or
// through its directory, after following symlinks.
func checkFile(what, rule, path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	for _, p := range []string{real, filepath.Dir(real)} {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, path, err)
		}
		if p == real && !st.Mode().IsRegular() {
			return fmt.Errorf("%s %s: refused by %s: not a regular file", what, path, rule)
		}
		if err := rootsAlone(what, rule, p, st); err != nil {
			return err
		}
	}
	return nil
}

// rootsAlone refuses what is not owned by root or is writable by group
// or others, naming the fix.
func rootsAlone(what, rule, path string, st fs.FileInfo) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !ok || sys.Uid != 0:
		return fmt.Errorf("%s %s: refused by %s: not owned by root, and it decides what root mounts and runs for containers: chown root %s", what, path, rule, path)
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s %s: refused by %s: writable by group or others (mode %04o): chmod go-w %s", what, path, rule, st.Mode().Perm(), path)
	}
	return nil
}

// List is every device the specs define, by qualified name.
func (s *Specs) List() []string {
	if s.cache == nil {
		return nil
	}
	return s.cache.ListDevices()
}

// Devices are the devices of kind (vendor/class, nvidia.com/gpu): each
// qualified name and the container paths of its own device nodes.
func (s *Specs) Devices(kind string) map[string][]string {
	out := map[string][]string{}
	for _, name := range s.List() {
		if !strings.HasPrefix(name, kind+"=") {
			continue
		}
		var nodes []string
		for _, n := range s.cache.GetDevice(name).ContainerEdits.DeviceNodes {
			nodes = append(nodes, n.Path)
		}
		out[name] = nodes
	}
	return out
}
