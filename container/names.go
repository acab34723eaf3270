package container

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/dockless/dockless/policy"
	"golang.org/x/sys/unix"
)

// reserveName claims the container's name for its lifetime, as docker's
// container names are unique per node.
func (l *launch) reserveName() (func(), error) {
	if !validName(l.name) {
		return nil, &InvalidNameError{Name: l.name}
	}
	// Root's alone: no user learns another's container names by trying
	// paths in it (one made 0711 before is closed here).
	dir := filepath.Join(l.n.State, "names")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	// The name file appears with the container's ID in it or not at all:
	// written in the container's own state directory (removed with it),
	// then linked into place, which fails if the name is taken. A dockless
	// killed half-way never leaves an empty name file that no reaper could
	// tell is its own.
	staged := filepath.Join(l.dir, "name")
	if err := os.WriteFile(staged, []byte(l.id), 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(staged)
	p := filepath.Join(dir, l.name)
	err := os.Link(staged, p)
	if errors.Is(err, os.ErrExist) && l.n.reclaimName(l.name) {
		err = os.Link(staged, p)
	}
	if errors.Is(err, os.ErrExist) {
		return nil, &NameInUseError{Name: l.name}
	}
	if err != nil {
		return nil, err
	}
	return func() { os.Remove(p) }, nil
}

// namesPath is the name file of the container called name.
func (n *Node) namesPath(name string) string { return filepath.Join(n.State, "names", name) }

// withNamesLock runs fn holding the lock that every removal of another
// container's name file takes (the reaper's and reclaimName's), so that
// none removes a name file another has just put in place of the one it
// read. Making a name file needs no lock: a link never replaces one.
func (n *Node) withNamesLock(fn func()) {
	d, err := os.Open(filepath.Join(n.State, "names"))
	if err != nil {
		return
	}
	defer d.Close()
	if unix.Flock(int(d.Fd()), unix.LOCK_EX) == nil {
		fn()
	}
}

// releaseName removes the name file of the container id, if it is still
// that container's.
func (n *Node) releaseName(name, id string) {
	n.withNamesLock(func() {
		if b, err := os.ReadFile(n.namesPath(name)); err == nil && string(b) == id {
			os.Remove(n.namesPath(name))
		}
	})
}

// reclaimName removes the name file of name when its container is gone
// and reports whether it did: a file naming a container whose state
// directory is gone (a name file is made only once the container's record
// exists, and removed before its state), or an empty file left by a
// dockless before names were linked into place, older than a minute.
func (n *Node) reclaimName(name string) (reclaimed bool) {
	n.withNamesLock(func() {
		p := n.namesPath(name)
		b, err := os.ReadFile(p)
		if err != nil {
			return
		}
		var stale bool
		if id := string(b); id == "" {
			info, err := os.Stat(p)
			stale = err == nil && time.Since(info.ModTime()) > time.Minute
		} else if validID(id) {
			_, err := os.Stat(n.dir(id))
			stale = errors.Is(err, os.ErrNotExist)
		}
		if stale {
			n.Log.Infof("the name %s was held by a container that is gone: reclaimed", name)
			reclaimed = os.Remove(p) == nil
		}
	})
	return reclaimed
}

// validID reports whether id is a container ID (64 lowercase hex digits).
func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func validName(n string) bool {
	if n == "" || n[0] == '.' || n[0] == '_' || n[0] == '-' {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

func (n *Node) stateCIDFile(name string) string {
	return filepath.Join(n.State, "cid", name)
}

// cidFiles writes the container ID: to the state directory for LSF jobs
// (removed with the container), and to a caller-named file created as the
// caller (refusing to overwrite one, as docker does; left in place, as
// docker leaves it).
func (l *launch) cidFiles() (func(), error) {
	var cleanup func()
	if l.opts.StateCIDFile {
		p := l.n.stateCIDFile(l.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o711); err != nil {
			return nil, err
		}
		cleanup = func() { os.Remove(p) }
		if err := os.WriteFile(p, []byte(l.id), 0o644); err != nil {
			return cleanup, err
		}
	}
	if l.opts.CIDFile == "" {
		return cleanup, nil
	}
	f, err := policy.CreateFile(l.n.Caller, "--cidfile", l.opts.CIDFile)
	var pe *policy.PathError
	if errors.As(err, &pe) && pe.Why == "exists" {
		return cleanup, &CIDFileExistsError{Path: l.opts.CIDFile}
	}
	if err != nil {
		return cleanup, err
	}
	_, err = f.WriteString(l.id)
	return cleanup, errors.Join(err, f.Close())
}
