package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Who may use a cached image. The store is shared by every user of the
// node, and an image fetched with one user's registry credentials must not
// become usable by a user whose credentials could not fetch it. Each image
// record names who may use it without asking its registry:
//
//   - publicLabel: its last fetch or check at the registry was anonymous,
//     so anyone may use it (it does not depend on the registry answering);
//   - uidLabel(uid): that user's credentials fetched or checked it.
//
// Root uses and sees every image, and so does everyone under [registry]
// offline (the site trusts its cache). Anyone else sees (images) and finds
// by ID only the images they may use without asking; an image they name
// that they may not use yet is checked at its registry with their own
// credentials first (a manifest HEAD: no download), and the answer is
// recorded either way — a refusal takes the caller's label (and, when no
// credentials were sent, the public label) off the image.
//
// When the registry cannot be asked (ErrUnreachable: no connection, no
// answer in time, 5xx, 429), root and everyone, for a public image, use
// the cached copy with a warning: a public image runs through a registry
// outage. A private image is used then only by the users whose label it
// carries and who still hold credentials for its registry; it fails
// closed for anyone else, naming [registry] offline.

const (
	publicLabel    = "dockless.access.public"
	uidLabelPrefix = "dockless.access.uid."
)

func uidLabel(uid uint32) string { return uidLabelPrefix + strconv.FormatUint(uint64(uid), 10) }

// Caller is whom a store acts for.
type Caller struct {
	UID uint32
	// Root uses and sees every cached image.
	Root bool
	// Credentials are the caller's registry credentials (nil: anonymous).
	Credentials Credentials
}

// allowed reports whether the store's caller may use rec without asking
// its registry.
func (s *Store) allowed(rec images.Image) bool {
	return s.As.Root || s.Offline || rec.Labels[publicLabel] != "" || rec.Labels[uidLabel(s.As.UID)] != ""
}

// accessLabel is the label a successful fetch or check by the caller sets
// ("" for root, who needs none): public when it sent no credentials.
func (s *Store) accessLabel(anonymous bool) string {
	switch {
	case anonymous:
		return publicLabel
	case s.As.Root:
		return ""
	default:
		return uidLabel(s.As.UID)
	}
}

// credentials are the caller's, noting whether any were sent.
func (s *Store) credentials(sent *atomic.Bool) Credentials {
	return func(host string) (string, string, error) {
		if s.As.Credentials == nil {
			return "", "", nil
		}
		user, secret, err := s.As.Credentials(host)
		if err == nil && (user != "" || secret != "") {
			sent.Store(true)
		}
		return user, secret, err
	}
}

// Get returns the cached image ref (a name, or an ID prefix of an image
// the caller may use) for the store's caller, never downloading: an image
// the caller may not use yet is checked at its registry first.
func (s *Store) Get(ctx context.Context, ref string) (*Image, error) {
	img, _, err := s.cached(ctx, ref, false, false, "")
	return img, err
}

// The bounds on one check at a registry. Asking whether a tag moved, for a
// caller who may use the cached copy anyway, gives up soon: a registry
// that does not answer then is down, and the copy is used. Asking whether
// a caller may use it has nothing to fall back on.
const (
	movedCheckTimeout  = 5 * time.Second
	accessCheckTimeout = time.Minute
)

// cached finds ref in the store (held, with hold: hold.go) and checks it
// at its registry when the caller may not use it without asking, or when
// revalidate asks whether its tag moved: it also reports whether the
// cached image is still what its name points at. When its registry cannot
// be asked (ErrUnreachable), the caller uses it, with a warning, if
// usableWithoutRegistry says so; such a caller is not asked at all when
// the registry answered within Store.Revalidate that the name points at
// it (revalidate.go). With prepare (a container's ID), an image usable
// without asking anyone gets that container's rootfs snapshot in the same
// session (Image.Mounts) instead of a hold.
func (s *Store) cached(ctx context.Context, ref string, revalidate, hold bool, prepare string) (*Image, bool, error) {
	if prepare != "" {
		if img, err := s.startCached(ctx, ref, revalidate, prepare); img != nil || err != nil {
			return img, img != nil, err
		}
	}
	var img *Image
	var labels map[string]string
	var allowed bool
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		rec, record, err := s.find(ctx, ss, ref)
		if err != nil {
			return err
		}
		if img, err = ss.describe(ctx, rec); err != nil {
			return fmt.Errorf("%w: %s (its record is broken: %w)", ErrNotFound, ref, err)
		}
		if record != rec.Name {
			img.record = record
		}
		labels, allowed = rec.Labels, s.allowed(rec)
		if prepare != "" && s.usableAsIs(img, labels, allowed, revalidate) {
			// On failure the image is held instead, and the rootfs step's
			// own Prepare reports why.
			if img.Mounts, err = ss.prepare(ctx, prepare, img, labels[lastUsedLabel]); err == nil {
				return nil
			}
		}
		if !hold {
			return nil
		}
		if img.hold, err = newHold(); err != nil {
			return err
		}
		return ss.hold(ctx, img.recordName(), img.hold)
	})
	if err != nil {
		return nil, false, err
	}
	if img.Mounts != nil {
		return img, true, nil
	}
	// The caller's own local record (tag, build) is what they made: as
	// docker, its name is not asked at the registry. Another user's is
	// never taken for the registry's image of its name, by anyone (root,
	// offline nodes included): only the registry's answer that the name
	// points at it lets it be used, and nothing falls back to it.
	if s.usedWithoutAsking(labels, allowed, revalidate) {
		return img, true, nil
	}
	foreign := s.foreignLocal(labels)
	if foreign && s.Offline {
		s.letGo(ctx, img)
		return nil, false, fmt.Errorf("%w: %s (the node's image of that name was made by another user, not pulled, and [registry] offline leaves no registry to check it against)", ErrNotFound, ref)
	}
	fallback := !foreign && allowed && s.usableWithoutRegistry(img.Name, labels)
	if fallback && s.revalidated(img.Name, img.Target.Digest) {
		return img, true, nil
	}
	timeout := accessCheckTimeout
	if fallback {
		timeout = movedCheckTimeout
	}
	current, err := s.check(ctx, img, labels, timeout)
	switch {
	case err == nil && foreign && current != img.Target.Digest:
		s.letGo(ctx, img)
		return nil, false, fmt.Errorf("%w: %s (the node's image of that name was made by another user, not pulled)", ErrNotFound, ref)
	case err == nil:
		return img, current == img.Target.Digest, nil
	case fallback && errors.Is(err, ErrUnreachable):
		s.log().Warnf("image %s: %v: using the cached copy (%s)", img.Name, err, img.Target.Digest)
		return img, true, nil
	}
	s.letGo(ctx, img)
	return nil, false, err
}

// startCached is a start's first try, in a shared session (the node's lock
// shared, the databases read-only): an image cached and usable as it is
// gets container id's writable layer (layer.go) at once. Anything else
// (not cached, to be asked at its registry, a containerd daemon, a
// failure) returns nil, and cached goes on under the lock held
// exclusively, which reports what fails; but a wait for the lock that ran
// out, or the run's end, is the run's error (a second wait would be as
// long).
func (s *Store) startCached(ctx context.Context, ref string, revalidate bool, id string) (*Image, error) {
	var img *Image
	var lastUsed string
	var local *localStore
	err := s.withShared(ctx, func(ctx context.Context, ss *session) error {
		rec, record, err := s.find(ctx, ss, ref)
		if err != nil {
			return err
		}
		found, err := ss.describe(ctx, rec)
		if err != nil {
			return err
		}
		if record != rec.Name {
			found.record = record
		}
		if !s.usableAsIs(found, rec.Labels, s.allowed(rec), revalidate) {
			return nil
		}
		if found.Mounts, err = ss.prepareLayer(ctx, id, found); err != nil {
			return err
		}
		img, lastUsed, local = found, rec.Labels[lastUsedLabel], ss.local
		return nil
	})
	var timeout lockTimeout
	switch {
	case err != nil && local != nil:
		// The layer was made, then the session failed (closing the
		// databases): nothing would release it.
		_ = os.RemoveAll(local.containerDir(id))
	case errors.As(err, &timeout) || (err != nil && ctx.Err() != nil):
		return nil, err
	}
	if err != nil {
		s.log().Debugf("image %s: not started in a shared session: %v", ref, err)
		return nil, nil
	}
	if img != nil && !usedSince(lastUsed, time.Now().Add(-lastUsedPrecision)) {
		s.noteUse(ctx, img)
	}
	return img, nil
}

// noteUse notes a use of img on its record (the size cap's order), if the
// store is free now and no other start noted one within
// lastUsedPrecision: a note left out is no loss, and a start does not wait
// for the lock held exclusively for it.
func (s *Store) noteUse(ctx context.Context, img *Image) {
	err := s.open(ctx, tryExclusive, func(ctx context.Context, ss *session) error {
		now := time.Now()
		rec, err := ss.images.Get(ctx, img.recordName())
		if err != nil || usedSince(rec.Labels[lastUsedLabel], now.Add(-lastUsedPrecision)) {
			return err
		}
		_, err = ss.images.Update(ctx, images.Image{Name: rec.Name, Labels: map[string]string{lastUsedLabel: strconv.FormatInt(now.UnixNano(), 10)}}, "labels."+lastUsedLabel)
		return err
	})
	if err != nil && !errors.Is(err, errLockBusy) {
		s.log().Debugf("image %s: noting its use: %v", img.Name, err)
	}
}

// usableAsIs reports, in the session that found img, whether the caller
// uses it as it is without asking its registry anything: the first cases
// of cached's checks that need no network and no credentials.
func (s *Store) usableAsIs(img *Image, labels map[string]string, allowed, revalidate bool) bool {
	if s.usedWithoutAsking(labels, allowed, revalidate) {
		return true
	}
	return !s.foreignLocal(labels) && allowed && (s.As.Root || labels[publicLabel] != "") && s.revalidated(img.Name, img.Target.Digest)
}

// usedWithoutAsking reports whether the caller uses a record with labels
// without any question to its registry: never another user's local
// record; on an offline node, or when the caller may use it and no
// revalidation is asked for (or it is their own local record).
func (s *Store) usedWithoutAsking(labels map[string]string, allowed, revalidate bool) bool {
	return !s.foreignLocal(labels) && (s.Offline || (allowed && (!revalidate || s.ownLocal(labels))))
}

// usableWithoutRegistry reports whether the caller may use the image name
// of a record with labels when its registry cannot be asked: root, and
// everyone when it is public (its last fetch or check was anonymous); a
// user whose label it carries only while they hold credentials for its
// registry — one who logged out cannot prove access now, and a private
// image fails closed for them, as for everyone else.
func (s *Store) usableWithoutRegistry(name string, labels map[string]string) bool {
	switch {
	case s.As.Root || labels[publicLabel] != "":
		return true
	case labels[uidLabel(s.As.UID)] == "" || s.As.Credentials == nil:
		return false
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return false
	}
	user, secret, err := s.As.Credentials(reference.Domain(named))
	return err == nil && (user != "" || secret != "")
}

// ErrUnreachable means an image's registry could not be asked: no
// connection, no answer in time, or an answer that it cannot answer now
// (5xx, 429).
var ErrUnreachable = errors.New("its registry cannot be asked")

// unreachable reports whether err, from a registry round trip whose
// caller's context is not done, means that the registry could not be
// asked rather than that it answered: no connection (refused, reset, no
// route, no such host, the proxy's), a timeout, a connection cut short,
// or a status that says it cannot answer now (5xx, 429 Too Many Requests,
// 408). A TLS certificate it cannot verify is an answer: it is refused.
func unreachable(err error) bool {
	var status remoteerrors.ErrUnexpectedStatus
	if errors.As(err, &status) {
		code := status.StatusCode
		return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
	}
	var op *net.OpError
	var timeout net.Error
	return errors.As(err, &op) || (errors.As(err, &timeout) && timeout.Timeout()) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// check asks img's registry with the caller's credentials what its name
// points at now (a manifest HEAD: no download, and on Docker Hub no pull
// counted), giving up after timeout, and records the answer on the image:
// a refusal is ErrUnauthorized, no answer ErrUnreachable. labels are the
// record's as img was read.
func (s *Store) check(ctx context.Context, img *Image, labels map[string]string, timeout time.Duration) (digest.Digest, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var sent atomic.Bool
	asked := time.Now()
	_, desc, err := s.resolver(s.credentials(&sent)).Resolve(cctx, img.Name)
	refused := err != nil && (errdefs.IsNotFound(err) || isAuthError(err))
	switch {
	case err == nil:
		s.noteRevalidated(img.Name, desc.Digest, !sent.Load(), asked)
	case refused:
		s.forgetRevalidated(img.Name, !sent.Load())
	}
	// Another user's local record of the name is not what the registry
	// holds unless the digests agree: the answer grants nothing on it.
	if (err == nil && (!s.foreignLocal(labels) || desc.Digest == img.Target.Digest)) || refused {
		if rerr := s.noteCheck(context.WithoutCancel(ctx), img, labels, !sent.Load(), refused); rerr != nil {
			return "", rerr
		}
	}
	switch {
	case err == nil:
		return desc.Digest, nil
	case refused:
		return "", fmt.Errorf("%w: %s: %v", ErrUnauthorized, img.Name, err)
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return "", fmt.Errorf("%w: no answer in %s", ErrUnreachable, timeout)
	case ctx.Err() == nil && unreachable(err):
		return "", fmt.Errorf("%w: %w", ErrUnreachable, err)
	default:
		return "", fmt.Errorf("checking %s at its registry: %w", img.Name, err)
	}
}

// noteCheck records what the registry answered the caller about img: a
// yes labels the image for them (public when they sent no credentials), a
// no takes their label off (and the public one, when they sent none).
// Nothing changes when the name was pulled again meanwhile, and the node
// lock is not taken when the record, as read (labels), already says it: a
// known user's check writes nothing.
func (s *Store) noteCheck(ctx context.Context, img *Image, labels map[string]string, anonymous, refused bool) error {
	if len(s.accessChanges(labels, anonymous, refused)) == 0 {
		return nil
	}
	return s.with(ctx, func(ctx context.Context, ss *session) error {
		rec, err := ss.images.Get(ctx, img.Name)
		if errdefs.IsNotFound(err) || (err == nil && rec.Target.Digest != img.Target.Digest) {
			return nil
		}
		if err != nil {
			return err
		}
		changes := s.accessChanges(rec.Labels, anonymous, refused)
		if len(changes) == 0 {
			return nil
		}
		var paths []string
		for k := range changes {
			paths = append(paths, "labels."+k)
		}
		_, err = ss.images.Update(ctx, images.Image{Name: rec.Name, Labels: changes}, paths...)
		if errdefs.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// accessChanges are the label changes that record a check's answer on a
// record with labels (an empty value removes a label).
func (s *Store) accessChanges(labels map[string]string, anonymous, refused bool) map[string]string {
	changes := map[string]string{}
	switch {
	case refused:
		for _, k := range []string{uidLabel(s.As.UID), publicLabel} {
			if labels[k] != "" && (k != publicLabel || anonymous) {
				changes[k] = ""
			}
		}
	case s.accessLabel(anonymous) != "" && labels[s.accessLabel(anonymous)] == "":
		changes[s.accessLabel(anonymous)] = strconv.FormatInt(time.Now().Unix(), 10)
	}
	return changes
}

// pullLabels are the labels of an image record the caller just pulled:
// the old record's, when the name still points at the same image, with the
// caller's access label and the time of use.
func (s *Store) pullLabels(old images.Image, target digest.Digest, anonymous bool) map[string]string {
	labels := map[string]string{}
	if old.Target.Digest == target {
		for k, v := range old.Labels {
			labels[k] = v
		}
	}
	now := time.Now()
	if l := s.accessLabel(anonymous); l != "" {
		labels[l] = strconv.FormatInt(now.Unix(), 10)
	}
	labels[lastUsedLabel] = strconv.FormatInt(now.UnixNano(), 10)
	return labels
}

// pullTrust is what a pull of the store's caller may take from the store
// without fetching it (see downloader.trust): the blobs of the images the
// caller may use, and those a pull of the same repository under way
// fetched (its note goes with the download area's files, claims.go). Any
// other blob the store holds — another user's private layer that a
// manifest of the caller's own registry names by its digest — the pull
// must fetch from its registry: the bytes are the proof. Root, and every
// caller under [registry] offline, may use every image: nil.
func (s *Store) pullTrust(ctx context.Context) (func(*downloader) func(ocispec.Descriptor) bool, error) {
	if s.As.Root || s.Offline {
		return func(*downloader) func(ocispec.Descriptor) bool { return nil }, nil
	}
	usable := map[digest.Digest]bool{}
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		recs, err := ss.images.List(ctx)
		if err != nil {
			return err
		}
		note := images.HandlerFunc(func(_ context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			usable[d.Digest] = true
			return nil, nil
		})
		for _, rec := range recs {
			if s.allowed(rec) {
				// What the pulls of rec fetched or proved, nothing more:
				// an index's other platforms were never fetched, and may
				// name anyone's blobs. A broken record only trusts less.
				_ = images.Walk(ctx, images.Handlers(note, imageChildren(images.ChildrenHandler(ss.cs))), rec.Target)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func(d *downloader) func(ocispec.Descriptor) bool {
		return func(desc ocispec.Descriptor) bool { return usable[desc.Digest] || d.fetchedFrom(desc, d.repo) }
	}, nil
}
