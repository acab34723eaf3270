package images

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
)

// What a registry answered lately. A check (access.go) or a pull that
// learns what a name points at notes the answer in a small file of the
// store (revalidatedDir), one per name and scope, so that every dockless
// process of the node starting a container on that image within
// Store.Revalidate uses the cached copy without asking the registry again
// whether its tag moved. The scope is whom the answer was given to:
// anyone, when no credentials were sent (a public image), or one user,
// whose credentials were sent (a private one: another user's starts still
// ask with their own). A note only ever spares the question whether the
// tag moved of a caller who could use the cached copy through a registry
// outage (Store.usableWithoutRegistry: root, anyone for a public image, a
// private image's own users while they hold credentials for its
// registry): a caller not known to be allowed, or logged out, is checked
// at the registry whatever the notes say. The notes are written and read without the node lock (a
// rename makes each write whole) and never across a network call; a note
// that cannot be read or written only means asking again.

// revalidatedDir is the notes' directory under the store root.
const revalidatedDir = "revalidated"

// revalidation is one note: what name pointed at, and when it was asked.
type revalidation struct {
	Name   string        `json:"name"`
	Digest digest.Digest `json:"digest"`
	At     time.Time     `json:"at"`
}

// revalidationScope is the scope of an answer given with credentials
// (anonymous false) or without.
func (s *Store) revalidationScope(anonymous bool) string {
	if anonymous {
		return "public"
	}
	return "uid." + strconv.FormatUint(uint64(s.As.UID), 10)
}

func (s *Store) revalidationPath(name, scope string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + scope))
	return filepath.Join(s.root, revalidatedDir, hex.EncodeToString(sum[:]))
}

// noteRevalidated notes that name pointed at dgst when asked at `at`, for
// anyone (anonymous) or the caller. Nothing is noted when revalidation is
// off.
func (s *Store) noteRevalidated(name string, dgst digest.Digest, anonymous bool, at time.Time) {
	if s.Revalidate <= 0 {
		return
	}
	raw, err := json.Marshal(revalidation{Name: name, Digest: dgst, At: at})
	if err == nil {
		err = WriteWhole(s.revalidationPath(name, s.revalidationScope(anonymous)), raw)
	}
	if err != nil {
		s.log().Debugf("image %s: noting the registry's answer: %v (the next start asks again)", name, err)
	}
}

// revalidated reports whether the registry said within Store.Revalidate,
// to anyone or to the caller, that name points at dgst.
func (s *Store) revalidated(name string, dgst digest.Digest) bool {
	if s.Revalidate <= 0 {
		return false
	}
	for _, anonymous := range []bool{true, false} {
		raw, err := os.ReadFile(s.revalidationPath(name, s.revalidationScope(anonymous)))
		if err != nil {
			continue
		}
		var r revalidation
		if json.Unmarshal(raw, &r) == nil && r.Name == name && r.Digest == dgst {
			if age := time.Since(r.At); age >= 0 && age < s.Revalidate {
				return true
			}
		}
	}
	return false
}

// forgetRevalidated removes the note of name for anyone (anonymous) or
// the caller, after a refusal: the next start asks.
func (s *Store) forgetRevalidated(name string, anonymous bool) {
	_ = os.Remove(s.revalidationPath(name, s.revalidationScope(anonymous)))
}

// WriteWhole writes raw to path through a temporary file (0600) renamed over it,
// so that a reader finds the old content or the new, never a part.
func WriteWhole(path string, raw []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	_, err = f.Write(raw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
