package images

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/images"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	"github.com/dockless/dockless/hack/testimage"
	"github.com/sirupsen/logrus"
)

// TestUnreachable_TellsAnOutageFromAnAnswer: no connection, a timeout, a
// connection cut short, 5xx and 429 mean the registry could not be asked;
// a refusal, a missing image or a certificate that does not verify are
// answers.
func TestUnreachable_TellsAnOutageFromAnAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, refused := http.Head("http://" + closed + "/v2/")
	if refused == nil {
		t.Fatal("a closed port answered")
	}
	status := func(code int) error {
		return fmt.Errorf("failed to resolve: %w", remoteerrors.ErrUnexpectedStatus{StatusCode: code, Status: http.StatusText(code)})
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"no answer in time", fmt.Errorf("resolving: %w", context.DeadlineExceeded), true},
		{"a connection cut short", &url.Error{Op: "Get", URL: "http://r/v2/x/blobs/y", Err: io.ErrUnexpectedEOF}, true},
		{"503 Service Unavailable", status(http.StatusServiceUnavailable), true},
		{"500 Internal Server Error", status(http.StatusInternalServerError), true},
		{"429 Too Many Requests", status(http.StatusTooManyRequests), true},
		{"503 with the registry's error body", errors.Join(remoteerrors.ErrUnexpectedStatus{StatusCode: 503}, errors.New("UNAVAILABLE")), true},
		{"401 Unauthorized", status(http.StatusUnauthorized), false},
		{"403 Forbidden", status(http.StatusForbidden), false},
		{"400 Bad Request", status(http.StatusBadRequest), false},
		{"a certificate that does not verify", &url.Error{Op: "Head", URL: "https://r/v2/", Err: &tls.CertificateVerificationError{Err: errors.New("unknown authority")}}, false},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("%s (%v): unreachable %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// outageCaller is whom a store acts for in TestStore_EnsureThroughAnOutage.
type outageCaller struct {
	name string
	as   Caller
	// public: the image they run is public, else alice's private one.
	public bool
	// runs: they get the cached image (with a warning), else a refusal
	// that names [registry] offline.
	runs bool
}

// TestStore_EnsureThroughAnOutage: with the registry stopped, answering
// 503 or 429, or not answering, a cached public image runs for root and
// for users, with one warning; a private image runs for root and for the
// user it is labelled for who still holds credentials, and is refused to
// anyone else — to its own user too once they logged out.
func TestStore_EnsureThroughAnOutage(t *testing.T) {
	creds := func(string) (string, string, error) { return "alice", "s3cret", nil }
	callers := []outageCaller{
		{"root, a public image", Caller{Root: true}, true, true},
		{"a user, a public image", Caller{UID: 1002}, true, true},
		{"root, a private image", Caller{Root: true}, false, true},
		{"its user, with credentials", Caller{UID: 1001, Credentials: creds}, false, true},
		{"its user, logged out", Caller{UID: 1001}, false, false},
		{"another user, with credentials", Caller{UID: 1002, Credentials: creds}, false, false},
	}
	for _, o := range []struct {
		name string
		down func(reg *testimage.Registry) (up func())
	}{
		{"stopped", func(reg *testimage.Registry) func() {
			reg.Close()
			return func() {}
		}},
		{"503", func(reg *testimage.Registry) func() {
			reg.SetStatus(http.StatusServiceUnavailable)
			return func() { reg.SetStatus(0) }
		}},
		{"429", func(reg *testimage.Registry) func() {
			reg.SetStatus(http.StatusTooManyRequests)
			return func() { reg.SetStatus(0) }
		}},
		{"not answering", func(reg *testimage.Registry) func() {
			return reg.Hold("test/public").Open
		}},
	} {
		t.Run(o.name, func(t *testing.T) {
			s, reg := testStore(t)
			ctx := context.Background()
			public := pullOK(t, s, push(t, reg, "test/public:latest", busyboxWith(t, "public", 0)))
			private := pullOK(t, s, push(t, reg, "test/private:latest", busyboxWith(t, "private", 1<<10)))
			// As a pull with alice's credentials records it.
			err := s.with(ctx, func(ctx context.Context, ss *session) error {
				_, err := ss.images.Update(ctx, images.Image{Name: private.Name, Labels: map[string]string{publicLabel: "", uidLabel(1001): "1"}}, "labels."+publicLabel, "labels."+uidLabel(1001))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(o.down(reg))
			for _, c := range callers {
				if o.name == "not answering" && (!c.public || !c.runs) {
					continue // the refusals wait for the check's full minute
				}
				img := private
				if c.public {
					img = public
				}
				var log bytes.Buffer
				logger := logrus.New()
				logger.SetOutput(&log)
				as := *s
				as.As, as.Log, as.PolicySource = c.as, logger, "/etc/dockless/dockless.toml"
				got, err := as.Ensure(ctx, img.Name, PullMissing, PullOptions{})
				switch {
				case c.runs && (err != nil || got.ID != img.ID):
					t.Errorf("%s: %v", c.name, err)
				case c.runs && (strings.Count(log.String(), "\n") != 1 || !strings.Contains(log.String(), "using the cached copy")):
					t.Errorf("%s: want one warning, got %q", c.name, log.String())
				case !c.runs && (!errors.Is(err, ErrUnreachable) || !strings.Contains(fmt.Sprint(err), "[registry] offline")):
					t.Errorf("%s: want a refusal naming [registry] offline, got %v", c.name, err)
				}
			}
		})
	}
}
