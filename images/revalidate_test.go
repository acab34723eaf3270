package images

import (
	"context"
	"testing"
	"time"
)

// TestStore_RevalidatedAnswerSparesOnlyThoseItWasGivenFor: within
// Store.Revalidate of a pull, a --pull missing start asks the registry
// nothing for those the answer stands for — anyone for a public image
// (root's anonymous pull), the user whose credentials pulled a private
// one — and asks for everyone else: root and another user of the private
// image, its own user once logged out, anyone after the window.
func TestStore_RevalidatedAnswerSparesOnlyThoseItWasGivenFor(t *testing.T) {
	creds := func(string) (string, string, error) { return "alice", "s3cret", nil }
	for _, c := range []struct {
		name    string
		private bool
		as      Caller
		window  time.Duration
		asks    bool
	}{
		{"root, a public image", false, Caller{Root: true}, time.Hour, false},
		{"a user, a public image", false, Caller{UID: 1002}, time.Hour, false},
		{"its user, a private image", true, Caller{UID: 1001, Credentials: creds}, time.Hour, false},
		{"its user, logged out", true, Caller{UID: 1001}, time.Hour, true},
		{"another user, with credentials", true, Caller{UID: 1002, Credentials: creds}, time.Hour, true},
		{"root, a private image", true, Caller{Root: true}, time.Hour, true},
		{"a user, a public image, after the window", false, Caller{UID: 1002}, time.Nanosecond, true},
		{"revalidation off", false, Caller{Root: true}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, reg := testStore(t)
			s.Revalidate = time.Hour
			repo := "test/public:1"
			if c.private {
				repo = "private/mine:1"
			}
			ref := push(t, reg, repo, busyboxWith(t, "x", 0))
			if c.private {
				reg.SetAuth("basic", "alice", "s3cret")
				s.As = Caller{UID: 1001, Credentials: creds}
			}
			img := pullOK(t, s, ref)
			reg.Reset()
			as := *s
			as.As, as.Revalidate = c.as, c.window
			got, err := as.Ensure(context.Background(), img.Name, PullMissing, PullOptions{})
			if err == nil && got.ID != img.ID {
				t.Errorf("got image %s, want %s", got.ID, img.ID)
			}
			if asked := reg.Requests() > 0; asked != c.asks {
				t.Errorf("asked the registry: %v, want %v (%v)", asked, c.asks, err)
			}
		})
	}
}
