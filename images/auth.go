package images

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/errdefs"
)

// Credentials answers a registry host ("docker.io", "127.0.0.1:5000") with
// the caller's username and secret; empty strings mean anonymous.
type Credentials func(host string) (user, secret string, err error)

// resolver talks the registry protocol with the caller's credentials
// (basic or bearer-token auth, as the registry asks), over HTTPS, or plain
// HTTP for localhost, through the mirrors, pull-through caches, plain-HTTP
// and CA settings of hostsDir (containerd's hosts.toml layout:
// <hostsDir>/<host>/hosts.toml) and the site's proxy.
func (s *Store) resolver(creds Credentials) remotes.Resolver {
	opts := config.HostOptions{Credentials: creds}
	if s.MirrorsDir != "" {
		opts.HostDir = config.HostDirFromRoot(s.MirrorsDir)
	}
	if s.Proxy != nil {
		proxy := s.Proxy.ProxyFunc()
		opts.UpdateClient = func(c *http.Client) error {
			tr, ok := c.Transport.(*http.Transport)
			if !ok {
				return fmt.Errorf("registry client: cannot set the proxy on a %T", c.Transport)
			}
			tr.Proxy = func(r *http.Request) (*url.URL, error) { return proxy(r.URL) }
			return nil
		}
	}
	return docker.NewResolver(docker.ResolverOptions{Hosts: config.ConfigureHosts(context.Background(), opts)})
}

// ErrUnauthorized means the registry refused the caller's credentials for
// an image: a cached copy must not be used either.
var ErrUnauthorized = errors.New("the registry does not let you pull this image")

// isAuthError reports a registry's refusal of the credentials (or of
// anonymous access); containerd's resolver says so in several ways.
func isAuthError(err error) bool {
	if errdefs.IsUnauthorized(err) || errdefs.IsPermissionDenied(err) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"failed to authorize", "authorization failed", "pull access denied", "401 Unauthorized", "403 Forbidden"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
