package images

import (
	"context"
	"errors"
	"fmt"
)

// PullPolicy is docker's --pull: when a container's image is pulled.
type PullPolicy string

const (
	// PullAlways pulls the image before every run.
	PullAlways PullPolicy = "always"
	// PullMissing pulls it when it is not cached or its tag moved.
	PullMissing PullPolicy = "missing"
	// PullNever uses the cached image only.
	PullNever PullPolicy = "never"
)

// ParsePullPolicy reads docker's --pull value.
func ParsePullPolicy(v string) (PullPolicy, error) {
	switch p := PullPolicy(v); p {
	case PullAlways, PullMissing, PullNever:
		return p, nil
	}
	return "", errors.New("use always, missing or never")
}

// Ensure resolves ref for a container under the pull policy. The store
// decides who may use a cached image (access.go): a caller it does not
// know to be allowed is checked at the registry with their own
// credentials first, whatever the policy (a manifest HEAD, never a
// download, so --pull never holds). "missing" also asks whether the tag
// moved, and pulls if it did ([registry] offline trusts the cache
// instead); when the registry cannot be asked, or the pull of the moved
// tag fails for it, a caller who may use the cached copy without asking
// gets it, with a warning. A cached image whose manifest or config no
// longer matches its digest in the store (verify.go) is pulled again, with
// a warning, unless the policy is "never". opts.Progress, if set, gets
// docker's "Unable to find image" line and the pull's progress; opts.Hold
// holds the image returned (hold.go).
func (s *Store) Ensure(ctx context.Context, ref string, pull PullPolicy, opts PullOptions) (*Image, error) {
	if _, err := Normalize(ref); err != nil {
		return nil, err
	}
	var cached *Image
	if pull != PullAlways {
		var corrupt *corruptBlob
		img, current, err := s.lookup(ctx, ref, pull, opts)
		switch {
		case err == nil && current:
			s.log().Debugf("image %s: using the cached copy (%s)", ref, img.Target.Digest)
			return img, nil
		case err == nil:
			s.log().Infof("image %s: the tag moved at the registry, pulling", ref)
			cached = img
		case errors.Is(err, ErrUnauthorized):
			return nil, fmt.Errorf("cached image %s not used: %w: an image in the node's shared store is used only by callers its registry lets pull it (log in with dockless login)", ref, err)
		case errors.Is(err, ErrUnreachable):
			return nil, fmt.Errorf("cached image %s not used: %w; without asking it, a private image is used only by the users its registry let pull it who still hold credentials for it (dockless login), a public one (fetched anonymously) by everyone: retry when the registry answers, or set [registry] offline in %s to trust the cache for everyone", ref, err, s.PolicySource)
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("cached image %s not used: %w (the registry is asked before a cached image is used with --pull missing, or by a caller not known to be allowed; [registry] offline in %s trusts the cache instead)", ref, err, s.PolicySource)
		case errors.As(err, &corrupt) && pull == PullNever:
			return nil, fmt.Errorf("image %s: %w (--pull=never forbids pulling it again)", ref, corrupt)
		case errors.As(err, &corrupt):
			s.log().Warnf("image %s: its %s is corrupt in the store (its bytes do not match its digest): pulling it again", ref, corrupt.String())
		case pull == PullNever:
			return nil, fmt.Errorf("image %s is not in the node store and --pull=never forbids pulling it", ref)
		case opts.Progress != nil:
			fmt.Fprintf(opts.Progress, "Unable to find image '%s' locally\n", ref)
		}
	}
	img, err := s.Pull(ctx, ref, opts)
	if cached != nil {
		if err != nil && ctx.Err() == nil && unreachable(err) {
			s.log().Warnf("image %s: the tag moved, but %v: using the cached copy (%s)", ref, err, cached.Target.Digest)
			return cached, nil
		}
		s.letGo(ctx, cached)
	}
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNoSpace) {
		return nil, fmt.Errorf("%w: refused by the bounds on one pull in %s ([store] max_image_size, max_image_files, min_free_space): ask the node's admin", err, s.PolicySource)
	}
	return img, err
}

// lookup looks ref up in the store for the pull policy (held or prepared,
// as opts say): "missing" asks the registry whether the tag moved, "never"
// only whether the caller may use it (when the store does not know).
func (s *Store) lookup(ctx context.Context, ref string, pull PullPolicy, opts PullOptions) (*Image, bool, error) {
	prepare := ""
	if opts.Hold {
		prepare = opts.Prepare
	}
	img, current, err := s.cached(ctx, ref, pull == PullMissing, opts.Hold, prepare)
	if pull == PullNever {
		current = true
	}
	return img, current, err
}
