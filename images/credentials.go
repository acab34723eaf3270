package images

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dockless/dockless/policy"
	"golang.org/x/sys/unix"
)

// dockerHubKey is the key docker keeps Docker Hub's credentials under.
const dockerHubKey = "https://index.docker.io/v1/"

// dockerAuth is one entry of config.json's "auths".
type dockerAuth struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// DockerConfigPath is the caller's docker config.json: $DOCKER_CONFIG when
// it is the caller's own directory, else ~/.docker of the caller's home in
// the user database.
func DockerConfigPath(c *policy.Caller) string {
	if d, _ := c.LookupEnv("DOCKER_CONFIG"); d != "" {
		if st, err := policy.Stat(c, "DOCKER_CONFIG", d); err == nil && st.IsDir() && ownedBy(st, c.UID) {
			return filepath.Join(d, "config.json")
		}
	}
	return filepath.Join(c.Home, ".docker", "config.json")
}

func ownedBy(st os.FileInfo, uid uint32) bool {
	s, ok := st.Sys().(*syscall.Stat_t)
	return ok && s.Uid == uid
}

// readDockerConfig reads the caller's config.json as the caller; a missing
// file is an empty config. The raw map keeps keys dockless does not use.
func readDockerConfig(c *policy.Caller) (map[string]json.RawMessage, map[string]dockerAuth, error) {
	raw := map[string]json.RawMessage{}
	auths := map[string]dockerAuth{}
	data, err := policy.ReadFile(c, "docker config", DockerConfigPath(c))
	var pe *policy.PathError
	if errors.As(err, &pe) && pe.Why == "does not exist" {
		return raw, auths, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", DockerConfigPath(c), err)
	}
	if a, ok := raw["auths"]; ok {
		if err := json.Unmarshal(a, &auths); err != nil {
			return nil, nil, fmt.Errorf("%s: auths: %w", DockerConfigPath(c), err)
		}
	}
	return raw, auths, nil
}

// configKeys are the spellings docker uses for a registry host.
func configKeys(host string) []string {
	if host == "docker.io" || host == "registry-1.docker.io" || host == "index.docker.io" {
		return []string{dockerHubKey, "index.docker.io", "docker.io", "registry-1.docker.io"}
	}
	return []string{host, "https://" + host, "http://" + host, "https://" + host + "/v1/"}
}

// CallerCredentials answers the registry with the caller's credentials:
// config.json's auths, or its credHelpers / credsStore helper run as the
// caller. A host without credentials is anonymous.
func CallerCredentials(c *policy.Caller) Credentials {
	return func(host string) (string, string, error) {
		raw, auths, err := readDockerConfig(c)
		if err != nil {
			return "", "", err
		}
		var helpers map[string]string
		var store string
		if h, ok := raw["credHelpers"]; ok {
			_ = json.Unmarshal(h, &helpers)
		}
		if s, ok := raw["credsStore"]; ok {
			_ = json.Unmarshal(s, &store)
		}
		for _, k := range configKeys(host) {
			if helper := helpers[k]; helper != "" {
				return runCredentialHelper(c, helper, k)
			}
		}
		for _, k := range configKeys(host) {
			a, ok := auths[k]
			if !ok {
				continue
			}
			if a.IdentityToken != "" {
				return "", a.IdentityToken, nil
			}
			if a.Auth != "" {
				dec, err := base64.StdEncoding.DecodeString(a.Auth)
				if err != nil {
					return "", "", fmt.Errorf("%s: auths[%s]: %w", DockerConfigPath(c), k, err)
				}
				user, pass, _ := strings.Cut(string(dec), ":")
				return user, pass, nil
			}
			if a.Username != "" {
				return a.Username, a.Password, nil
			}
		}
		if store != "" {
			return runCredentialHelper(c, store, configKeys(host)[0])
		}
		return "", "", nil
	}
}

// helperPath is where credential helpers are looked up and the PATH they
// run with: the system's directories, never the caller's PATH (which is
// the caller's data, see policy.Caller.Env).
const helperPath = "/usr/local/bin:/usr/bin:/bin"

// runCredentialHelper runs docker-credential-NAME get as the caller.
func runCredentialHelper(c *policy.Caller, name, server string) (string, string, error) {
	prog, err := lookHelper("docker-credential-" + name)
	if err != nil {
		return "", "", err
	}
	cmd, err := callerCommand(c, prog, "get")
	if err != nil {
		return "", "", err
	}
	cmd.Stdin = strings.NewReader(server)
	cmd.Env = []string{"HOME=" + c.Home, "PATH=" + helperPath}
	if !c.IsRoot() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if strings.Contains(out.String()+errb.String(), "credentials not found") {
			return "", "", nil
		}
		return "", "", fmt.Errorf("credential helper docker-credential-%s: %v: %s", name, err, strings.TrimSpace(errb.String()+out.String()))
	}
	var cred struct{ Username, Secret string }
	if err := json.Unmarshal(out.Bytes(), &cred); err != nil {
		return "", "", fmt.Errorf("credential helper docker-credential-%s: %w", name, err)
	}
	if cred.Username == "<token>" {
		return "", cred.Secret, nil
	}
	return cred.Username, cred.Secret, nil
}

// prlimitPath is util-linux's prlimit, which sets a program's resource
// limits before it runs.
const prlimitPath = "/usr/bin/prlimit"

// callerCommand runs prog under the caller's own resource limits: the
// setuid entry lifted dockless's (runtime.CallerRlimits), and a program
// run for the caller must not inherit more than they had.
func callerCommand(c *policy.Caller, prog string, args ...string) (*exec.Cmd, error) {
	if len(c.Rlimits) == 0 {
		return exec.Command(prog, args...), nil
	}
	if _, err := os.Stat(prlimitPath); err != nil {
		return nil, fmt.Errorf("%s: needed to run %s under your own resource limits (install util-linux): %w", prlimitPath, prog, err)
	}
	var limits []string
	for _, r := range []struct {
		flag string
		res  int
	}{{"--cpu", unix.RLIMIT_CPU}, {"--fsize", unix.RLIMIT_FSIZE}, {"--as", unix.RLIMIT_AS}, {"--data", unix.RLIMIT_DATA}, {"--nofile", unix.RLIMIT_NOFILE}} {
		if lim, ok := c.Rlimits[r.res]; ok {
			limits = append(limits, r.flag+"="+rlimitValue(lim.Cur)+":"+rlimitValue(lim.Max))
		}
	}
	return exec.Command(prlimitPath, append(append(limits, "--", prog), args...)...), nil
}

func rlimitValue(v uint64) string {
	if v == ^uint64(0) {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// lookHelper finds the executable prog in helperPath. prog comes from the
// caller's docker config: a name with a slash could climb out of those
// directories, and dockless looks as root.
func lookHelper(prog string) (string, error) {
	if strings.ContainsRune(prog, '/') || prog != filepath.Base(prog) {
		return "", fmt.Errorf("credential helper %q: a helper is named, not a path (docker config's credHelpers or credsStore): name one installed in %s", prog, helperPath)
	}
	for _, dir := range filepath.SplitList(helperPath) {
		p := filepath.Join(dir, prog)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("credential helper %s: not found in %s (docker config's credHelpers or credsStore names it; install it there)", prog, helperPath)
}

// SaveCredentials records (or, with user "", removes) the caller's login
// for host in their config.json, written as the caller.
func SaveCredentials(c *policy.Caller, host, user, pass string) error {
	raw, auths, err := readDockerConfig(c)
	if err != nil {
		return err
	}
	key := configKeys(host)[0]
	for _, k := range configKeys(host) {
		if _, ok := auths[k]; ok {
			key = k
		}
	}
	if user == "" {
		if _, ok := auths[key]; !ok {
			return fmt.Errorf("not logged in to %s", host)
		}
		delete(auths, key)
	} else {
		auths[key] = dockerAuth{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	}
	a, err := json.Marshal(auths)
	if err != nil {
		return err
	}
	raw["auths"] = a
	data, err := json.MarshalIndent(raw, "", "\t")
	if err != nil {
		return err
	}
	return policy.WriteFile(c, "docker config", DockerConfigPath(c), append(data, '\n'), 0o600)
}
