package kit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dockless/dockless/images"
)

// The build state's databases are written without syncs: the worker's
// records, its snapshots' and its cache metadata, and the build history
// (BuildKit's cache database already is). That is about 600 fdatasyncs a
// build fewer (issue 15: the nine-step build 0.68–0.74 s against
// 0.71–0.77 s without the cache metadata's).
//
// Every write still reaches the page cache before its transaction
// returns, so a build killed at any point leaves the databases whole for
// the next one; only a crash of the node can lose writes the disk had not
// got yet, and leave a database torn. unsyncedMark tells when that may be:
// it holds the boot id while a build runs, and goes once the build synced
// the databases at its end. A build that finds the mark of another boot
// empties the state before it opens anything: the state is a cache, which
// that build fills again.
const unsyncedMark = "unsynced"

// unsyncedFiles are the state's databases written without syncs, under
// the state's root.
var unsyncedFiles = []string{
	"history.db",
	"cache.db",
	filepath.Join("runc-"+snapshotterName, "containerdmeta.db"),
	filepath.Join("runc-"+snapshotterName, "metadata_v2.db"),
	filepath.Join("runc-"+snapshotterName, "snapshots", "metadata.db"),
}

// markUnsynced empties the state at root if the node crashed during a
// build of it, marks it, and returns what syncs its databases and takes
// the mark away, for the end of the build.
func markUnsynced(root string) (func() error, error) {
	boot := images.BootID()
	mark := filepath.Join(root, unsyncedMark)
	b, err := os.ReadFile(mark)
	switch {
	case err == nil && (boot == "" || string(b) != boot):
		if err := emptyState(root); err != nil {
			return nil, fmt.Errorf("emptying the build state %s, which a crash of the node may have torn: %w", root, err)
		}
		fmt.Fprintln(os.Stderr, "dockless build: the node went down during an earlier build of yours: its build cache may have been torn, and was emptied")
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	if err := writeSynced(mark, boot); err != nil {
		return nil, fmt.Errorf("marking the build state: %w", err)
	}
	return func() error {
		for _, name := range unsyncedFiles {
			if err := syncFile(filepath.Join(root, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("syncing the build state: %w", err)
			}
		}
		return os.Remove(mark)
	}, nil
}

// emptyState removes everything in the state at root but its mark.
func emptyState(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != unsyncedMark {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSynced writes data to path and syncs it and its directory.
func writeSynced(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return syncFile(filepath.Dir(path))
}

// syncFile flushes the file or directory at path to the disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
