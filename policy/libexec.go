package policy

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Libexec is the helper program name of dockless's own installation:
// ../libexec/dockless/NAME from the running dockless (its links
// resolved), only when the program and the two directories above it are
// root's and writable by no one else, and the program is not set-id;
// never looked up in PATH. The helpers hold what the setuid dockless must
// not link: BuildKit (dockless-build), NVIDIA's CDI generator
// (dockless-cdi).
func Libexec(name string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return libexecBeside(exe, name)
}

// libexecBeside is Libexec for the program at exe.
func libexecBeside(exe, name string) (string, error) {
	exe, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(filepath.Dir(exe)), "libexec", "dockless", name)
	for _, path := range []string{filepath.Dir(filepath.Dir(p)), filepath.Dir(p), p} {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return "", fmt.Errorf("dockless needs %s (make install puts it there): %w", p, err)
		}
		if st.Uid != 0 || st.Mode&0o022 != 0 || st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 && path == p {
			return "", fmt.Errorf("%s: refused: must be root's, not writable by group or others, and not set-id", path)
		}
	}
	return p, nil
}
