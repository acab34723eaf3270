package policy

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Libexec is the helper program name of dockless's own installation:
// ../libexec/dockless/NAME from the running dockless (its links
// resolved), only when no one but root could have put it there or swap
// a directory on its way: the program is root's, not writable by group
// or others and not set-id, and every directory from / down to it is
// root's and writable by no one else, or root's and sticky (/tmp), where
// no one can rename what is not theirs. So a user who hard-links the
// setuid dockless into a directory of theirs gets a refusal, not their
// own helper. Never looked up in PATH. The helpers hold what the setuid
// dockless must not link: BuildKit (dockless-build), NVIDIA's CDI
// generator (dockless-cdi).
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
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return "", fmt.Errorf("dockless needs %s (make install puts it there): %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 0 || st.Mode&0o022 != 0 || st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		return "", fmt.Errorf("%s: refused: must be a file of root's, not writable by group or others, and not set-id", p)
	}
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		if err := unix.Lstat(dir, &st); err != nil {
			return "", fmt.Errorf("dockless needs %s (make install puts it there): %w", p, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != 0 || st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
			return "", fmt.Errorf("%s: refused: %s must be a directory of root's, not writable by group or others (or sticky, as /tmp)", p, dir)
		}
		if dir == "/" {
			return p, nil
		}
	}
}
