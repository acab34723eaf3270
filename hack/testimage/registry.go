package testimage

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is a registry served in process on 127.0.0.1 that counts the
// requests it answers.
type Registry struct {
	// Addr is host:port, e.g. 127.0.0.1:40123.
	Addr string

	srv     *http.Server
	handler http.Handler
	mu      sync.Mutex
	counts  map[string]int
	// delay, when set, makes blob downloads trickle (64 KiB per 50 ms)
	// so that a test can interrupt one half-way.
	delay bool
	// auth protects the repositories under private/: "" (none), "basic",
	// or "bearer" (a token service at /token, as Docker Hub does).
	auth, user, pass string
	// blobs answer GETs of some blobs (by digest) instead of the
	// registry: a registry that misbehaves.
	blobs map[string]http.HandlerFunc
	// gates hold the manifest requests of a repository (see Hold).
	gates map[string]*Gate
	// status, when set, answers every request (a registry that cannot
	// answer now: 503, 429).
	status int
}

// SetStatus answers every request with the HTTP status code (0: serve
// again).
func (r *Registry) SetStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

// ServeBlob answers GETs of the blob digest ("sha256:...") with h instead
// of the stored blob, in every repository; nil restores the blob.
func (r *Registry) ServeBlob(digest string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h == nil {
		delete(r.blobs, digest)
		return
	}
	r.blobs[digest] = h
}

// Gate holds a repository's manifest requests until it is opened, so that
// a test can stop a dockless at its registry round trip (after it looked in
// its store, before it goes on) and choose when it goes on.
type Gate struct {
	// Arrived is closed when the first request reaches the gate.
	Arrived chan struct{}
	arrived sync.Once
	open    chan struct{}
	opened  sync.Once
}

// Open lets the held request and every later one through.
func (g *Gate) Open() { g.opened.Do(func() { close(g.open) }) }

// Hold sets a gate on the manifests of repo ("test/x").
func (r *Registry) Hold(repo string) *Gate {
	g := &Gate{Arrived: make(chan struct{}), open: make(chan struct{})}
	r.mu.Lock()
	r.gates[repo] = g
	r.mu.Unlock()
	return g
}

// token is what the test token service hands out.
const token = "test-token-for-private"

// SetAuth protects the repositories under private/ (and the /v2/ ping)
// with mode "basic" or "bearer" for user and pass; "" removes it.
func (r *Registry) SetAuth(mode, user, pass string) {
	r.mu.Lock()
	r.auth, r.user, r.pass = mode, user, pass
	r.mu.Unlock()
}

// authorized answers a request the auth mode does not let through with a
// challenge and reports false.
func (r *Registry) authorized(w http.ResponseWriter, req *http.Request) bool {
	r.mu.Lock()
	mode, user, pass := r.auth, r.user, r.pass
	r.mu.Unlock()
	if mode == "" || !(req.URL.Path == "/v2/" || strings.HasPrefix(req.URL.Path, "/v2/private/")) {
		return true
	}
	switch mode {
	case "basic":
		if u, p, ok := req.BasicAuth(); ok && u == user && p == pass {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="dockless-test"`)
	case "bearer":
		if req.Header.Get("Authorization") == "Bearer "+token {
			return true
		}
		scope := ""
		if repo, _, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/v2/"), "/manifests/"); ok {
			scope = fmt.Sprintf(`,scope="repository:%s:pull"`, repo)
		} else if repo, _, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/v2/"), "/blobs/"); ok {
			scope = fmt.Sprintf(`,scope="repository:%s:pull"`, repo)
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="dockless-test"%s`, r.Addr, scope))
	}
	http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
	return false
}

// serveToken is the bearer token service: basic credentials in, token out.
func (r *Registry) serveToken(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	user, pass := r.user, r.pass
	r.mu.Unlock()
	if u, p, ok := req.BasicAuth(); !ok || u != user || p != pass {
		http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"token":%q,"access_token":%q,"expires_in":300}`, token, token)
}

// SetDelay makes blob downloads slow (true) or fast again.
func (r *Registry) SetDelay(slow bool) {
	r.mu.Lock()
	r.delay = slow
	r.mu.Unlock()
}

// trickle writes at most 64 KiB per 50 ms.
type trickle struct{ http.ResponseWriter }

func (t trickle) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		chunk := min(len(b), 64<<10)
		w, err := t.ResponseWriter.Write(b[:chunk])
		n += w
		if err != nil {
			return n, err
		}
		if f, ok := t.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		b = b[chunk:]
		time.Sleep(50 * time.Millisecond)
	}
	return n, nil
}

// StartRegistry serves an empty registry on a free loopback port.
func StartRegistry() (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Registry{Addr: ln.Addr().String(), counts: map[string]int{}, blobs: map[string]http.HandlerFunc{}, gates: map[string]*Gate{}}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.counts[req.Method+" "+req.URL.Path]++
		slow := r.delay && req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/")
		var blob http.HandlerFunc
		if _, d, ok := strings.Cut(req.URL.Path, "/blobs/"); ok && req.Method == http.MethodGet {
			blob = r.blobs[d]
		}
		var gate *Gate
		if repo, _, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/v2/"), "/manifests/"); ok {
			gate = r.gates[repo]
		}
		status := r.status
		r.mu.Unlock()
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		if gate != nil {
			gate.arrived.Do(func() { close(gate.Arrived) })
			select {
			case <-gate.open:
			case <-req.Context().Done():
				return
			}
		}
		if req.URL.Path == "/token" {
			r.serveToken(w, req)
			return
		}
		if !r.authorized(w, req) {
			return
		}
		if slow {
			w = trickle{w}
		}
		if blob != nil {
			blob(w, req)
			return
		}
		h.ServeHTTP(w, req)
	})
	r.serve(ln)
	return r, nil
}

func (r *Registry) serve(ln net.Listener) {
	r.srv = &http.Server{Handler: r.handler}
	go r.srv.Serve(ln) //nolint:errcheck // ends with Close
}

// Close stops the registry: its port refuses connections, and the
// connections open are cut.
func (r *Registry) Close() error { return r.srv.Close() }

// Restart serves the registry again, with what it held, on its address.
func (r *Registry) Restart() error {
	ln, err := net.Listen("tcp", r.Addr)
	if err != nil {
		return err
	}
	r.serve(ln)
	return nil
}

// Ref is the reference of repo:tag at this registry.
func (r *Registry) Ref(repoTag string) string { return r.Addr + "/" + repoTag }

// Push uploads an image as repo:tag and returns its reference.
func (r *Registry) Push(repoTag string, img v1.Image) (string, error) {
	ref, err := name.ParseReference(r.Ref(repoTag), name.Insecure)
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, img); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	return ref.String(), nil
}

// PushIndex uploads an image index as repo:tag.
func (r *Registry) PushIndex(repoTag string, idx v1.ImageIndex) (string, error) {
	ref, err := name.ParseReference(r.Ref(repoTag), name.Insecure)
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	return ref.String(), nil
}

// PushManifest uploads raw as the manifest of repo:tag (its blobs must be
// there already, or be served by ServeBlob): a manifest no image builder
// would write.
func (r *Registry) PushManifest(repoTag, mediaType string, raw []byte) error {
	repo, tag, _ := strings.Cut(repoTag, ":")
	req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/v2/%s/manifests/%s", r.Addr, repo, tag), strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("pushing the manifest of %s: %s: %s", repoTag, resp.Status, b)
	}
	return nil
}

// BlobGets counts the GET requests for blobs of repo since the last Reset.
func (r *Registry) BlobGets(repo string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	prefix := "GET /v2/" + repo + "/blobs/"
	for k, n := range r.counts {
		if strings.HasPrefix(k, prefix) {
			out[strings.TrimPrefix(k, prefix)] = n
		}
	}
	return out
}

// Requests counts every request answered since the last Reset.
func (r *Registry) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.counts {
		n += c
	}
	return n
}

// Reset forgets the request counts.
func (r *Registry) Reset() {
	r.mu.Lock()
	r.counts = map[string]int{}
	r.mu.Unlock()
}
