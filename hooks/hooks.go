package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Version is the one schema version read.
const Version = "1.0.0"

// Hook is one hooks.d file.
type Hook struct {
	Version string     `json:"version"`
	Hook    specs.Hook `json:"hook"`
	When    When       `json:"when"`
	Stages  []string   `json:"stages"`
	// File is where it was read from.
	File string `json:"-"`
}

// When are the conditions of a hook; all that are given must hold, and at
// least one must be given.
type When struct {
	Always *bool `json:"always,omitempty"`
	// Annotations: for each key pattern, some annotation whose key matches
	// it has a value matching the value pattern.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Commands: process.args[0] matches one of them.
	Commands      []string `json:"commands,omitempty"`
	HasBindMounts *bool    `json:"hasBindMounts,omitempty"`
}

var stages = map[string]func(*specs.Hooks) *[]specs.Hook{
	"prestart":        func(h *specs.Hooks) *[]specs.Hook { return &h.Prestart }, //nolint:staticcheck // a stage of schema 1.0.0
	"createRuntime":   func(h *specs.Hooks) *[]specs.Hook { return &h.CreateRuntime },
	"createContainer": func(h *specs.Hooks) *[]specs.Hook { return &h.CreateContainer },
	"startContainer":  func(h *specs.Hooks) *[]specs.Hook { return &h.StartContainer },
	"poststart":       func(h *specs.Hooks) *[]specs.Hook { return &h.Poststart },
	"poststop":        func(h *specs.Hooks) *[]specs.Hook { return &h.Poststop },
}

// Load reads the *.json files of dirs, in the order of their lower-cased
// names; a file of a later directory masks the same-named file of an
// earlier one. A directory that does not exist has no hooks.
func Load(dirs []string) ([]*Hook, error) {
	byName := map[string]*Hook{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = rootsAlone(dir)
		}
		if err != nil {
			return nil, fmt.Errorf("hooks directory %s: %w", dir, err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			h, err := read(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			byName[e.Name()] = h
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	out := make([]*Hook, 0, len(names))
	for _, n := range names {
		out = append(out, byName[n])
	}
	return out, nil
}

// rootsAlone refuses a path (followed) that is not root's, or is writable
// by group or others.
func rootsAlone(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	if st.Uid != 0 || st.Mode&0o022 != 0 {
		return fmt.Errorf("refused: owned by uid %d, mode %o: a hook runs as root, so its directory, file and program must be root's and writable by no one else ([hooks] dirs in the policy): chown root and chmod go-w it", st.Uid, st.Mode&0o7777)
	}
	return nil
}

// read reads and checks one hook file.
func read(file string) (*Hook, error) {
	fail := func(err error) (*Hook, error) { return nil, fmt.Errorf("hook %s: %w", file, err) }
	if fi, err := os.Lstat(file); err != nil {
		return fail(err)
	} else if !fi.Mode().IsRegular() {
		return fail(errors.New("refused: not a regular file ([hooks] dirs in the policy)"))
	}
	if err := rootsAlone(file); err != nil {
		return fail(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fail(err)
	}
	h := &Hook{File: file}
	if err := json.Unmarshal(b, h); err != nil {
		return fail(err)
	}
	if err := h.validate(); err != nil {
		return fail(err)
	}
	return h, nil
}

// validate checks a hook as oci-hooks(5) defines it, and its program.
func (h *Hook) validate() error {
	if h.Version != Version {
		return fmt.Errorf("version %q: only %s is read", h.Version, Version)
	}
	if !filepath.IsAbs(h.Hook.Path) {
		return fmt.Errorf("hook.path %q: must be an absolute path", h.Hook.Path)
	}
	if err := rootsAlone(h.Hook.Path); err != nil {
		return fmt.Errorf("hook.path %s: %w", h.Hook.Path, err)
	}
	if len(h.Stages) == 0 {
		return errors.New("stages: at least one is needed")
	}
	for _, s := range h.Stages {
		if stages[s] == nil {
			return fmt.Errorf("stage %q: not one of prestart, createRuntime, createContainer, startContainer, poststart, poststop", s)
		}
	}
	w := h.When
	if w.Always == nil && w.HasBindMounts == nil && len(w.Annotations) == 0 && len(w.Commands) == 0 {
		return errors.New("when: at least one condition is needed")
	}
	for k, v := range w.Annotations {
		for _, p := range []string{k, v} {
			if _, err := regexp.Compile(p); err != nil {
				return fmt.Errorf("when.annotations: %w", err)
			}
		}
	}
	for _, p := range w.Commands {
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("when.commands: %w", err)
		}
	}
	return nil
}

// Match reports whether the hook applies to spec s (its annotations and
// process), a container with bind mounts or not.
func (h *Hook) Match(s *specs.Spec, hasBindMounts bool) bool {
	w := h.When
	if w.Always != nil && !*w.Always || w.HasBindMounts != nil && *w.HasBindMounts != hasBindMounts {
		return false
	}
	for kp, vp := range w.Annotations {
		if !annotationMatches(s.Annotations, kp, vp) {
			return false
		}
	}
	if len(w.Commands) > 0 {
		if s.Process == nil || len(s.Process.Args) == 0 {
			return false
		}
		found := false
		for _, p := range w.Commands {
			found = found || regexp.MustCompile(p).MatchString(s.Process.Args[0])
		}
		return found
	}
	return true
}

func annotationMatches(annotations map[string]string, keyPattern, valuePattern string) bool {
	k, v := regexp.MustCompile(keyPattern), regexp.MustCompile(valuePattern)
	for key, value := range annotations {
		if k.MatchString(key) && v.MatchString(value) {
			return true
		}
	}
	return false
}

// Apply adds the hooks that match s to its stages, in order.
func Apply(s *specs.Spec, hooks []*Hook, hasBindMounts bool) {
	for _, h := range hooks {
		if !h.Match(s, hasBindMounts) {
			continue
		}
		if s.Hooks == nil {
			s.Hooks = &specs.Hooks{}
		}
		for _, stage := range h.Stages {
			list := stages[stage](s.Hooks)
			*list = append(*list, h.Hook)
		}
	}
}
