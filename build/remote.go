package build

import (
	"net/url"
	"regexp"
	"strings"
)

var (
	// schemeURL and scpURL are the URL forms BuildKit's git parser knows
	// (util/gitutil, util/sshutil): SCHEME://… and USER@HOST:PATH.
	schemeURL = regexp.MustCompile(`^[a-zA-Z0-9]+://`)
	scpURL    = regexp.MustCompile(`^[a-zA-Z0-9-_]+@([a-zA-Z0-9-.]+):`)
)

// ContextURL says whether a build's CONTEXT is a URL, which dockless-build
// fetches as the caller, and the host it is fetched from: a git repository
// (https://HOST/REPO.git#REF:DIR, git://, ssh://, git@HOST:REPO,
// github.com/…) or another http(s) URL (a tarball, or a Dockerfile alone),
// as BuildKit's Dockerfile frontend tells them apart. Anything else is a
// local path.
func ContextURL(context string) (host string, ok bool) {
	switch {
	case strings.HasPrefix(context, "github.com/"):
		return "github.com", true
	case scpURL.MatchString(context):
		return scpURL.FindStringSubmatch(context)[1], true
	case !schemeURL.MatchString(context):
		return "", false
	}
	u, err := url.Parse(context)
	if err != nil {
		return "", false
	}
	switch u.Scheme {
	case "http", "https", "git", "ssh":
		return u.Host, true
	}
	return "", false
}

// SSHContext says whether a build's CONTEXT is a git repository fetched
// over SSH (ssh://…, USER@HOST:PATH), which BuildKit fetches with the
// build's "default" --ssh agent.
func SSHContext(context string) bool {
	if scpURL.MatchString(context) {
		return true
	}
	u, err := url.Parse(context)
	return err == nil && schemeURL.MatchString(context) && u.Scheme == "ssh"
}
