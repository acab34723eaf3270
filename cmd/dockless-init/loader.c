/*
 * The seccomp loader: "docker-init --seccomp FLAGS PROGRAM CAPS -- COMMAND [ARG...]",
 * executed as /proc/self/fd/N.
 *
 * libcontainer compiles a container's seccomp profile with libseccomp in
 * every container's init, just before the exec: docker's profile, with its
 * x86 section, costs about 17 ms a start on a 2-core node. dockless
 * compiles each profile once (runtime/seccomp.go keeps the program
 * libseccomp and runc made, in root's state directory) and, for a job
 * container, has libcontainer execute this loader in place of the command,
 * from a sealed copy passed as a descriptor. The loader then does what
 * libcontainer's init would have done at that point, in the same order:
 *
 *   1. finds COMMAND as Go's os/exec.LookPath does in libcontainer's init
 *      (PATH from the environment; docker's words and exit codes when it
 *      cannot: 127 not found, 126 not executable);
 *   2. loads the filter with FLAGS (SECCOMP_FILTER_FLAG_*), as runc's
 *      patchbpf does: its instructions (struct sock_filter, host byte
 *      order) follow the loader's own program in the sealed copy it runs
 *      from, at PROGRAM ("OFFSET+LENGTH", in bytes);
 *   3. executes COMMAND with the environment it was given.
 *
 * Its own descriptor N is closed by that exec.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loader.h"

extern char **environ;

/* go_error is errno in Go's words (lower case: "permission denied"). */
static const char *go_error(int err, char *buf, size_t n)
{
	snprintf(buf, n, "%s", strerror(err));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

int exit_code(int err, int otherwise)
{
	switch (err) {
	case ENOENT:
		return 127;
	case EACCES:
	case EISDIR:
	case ENOEXEC:
		return 126;
	}
	return otherwise;
}

static void __attribute__((noreturn)) refuse(int code, const char *what)
{
	fprintf(stderr, "dockless: unable to start container process: error during container init: %s\n", what);
	_exit(code);
}

/* find_executable is Go's findExecutable: 0, or the errno that says why
 * not; a stat failure sets *stat_failed. */
static int find_executable(const char *path, int *stat_failed)
{
	struct stat st;

	*stat_failed = 0;
	if (stat(path, &st) != 0) {
		*stat_failed = 1;
		return errno;
	}
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM)
		return errno;
	return (st.st_mode & 0111) ? 0 : EACCES;
}

/* clean is Go's path.Clean of path, in place. */
static void clean(char *path)
{
	size_t n = strlen(path), r = 0, w = 0, dotdot = 0;
	int rooted = path[0] == '/';

	if (rooted) {
		w = r = dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && path[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					path[w++] = '/';
				path[w++] = '.';
				path[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				path[w++] = '/';
			for (; r < n && path[r] != '/'; r++)
				path[w++] = path[r];
		}
	}
	if (w == 0)
		path[w++] = '.';
	path[w] = '\0';
}

/* look_path is Go's exec.LookPath(file): the path to execute, or the end
 * of the process with docker's message and status. */
static const char *look_path(const char *file, char *buf, size_t n)
{
	char msg[PATH_MAX + 256], e[128];
	int stat_failed, err;

	if (strchr(file, '/') != NULL) {
		err = find_executable(file, &stat_failed);
		if (err == 0)
			return file;
		if (stat_failed)
			snprintf(msg, sizeof(msg), "exec: \"%s\": stat %s: %s", file, file, go_error(err, e, sizeof(e)));
		else
			snprintf(msg, sizeof(msg), "exec: \"%s\": %s", file, go_error(err, e, sizeof(e)));
		refuse(exit_code(err, 125), msg);
	}
	const char *path = getenv("PATH");
	for (const char *dir = path; dir != NULL && *dir != '\0'; dir++) {
		const char *end = strchrnul(dir, ':');
		int len = (int)(end - dir), w;
		/* filepath.Join(dir, file), "" read as "." */
		if (len == 0)
			w = snprintf(buf, n, "./%s", file);
		else
			w = snprintf(buf, n, "%.*s/%s", len, dir, file);
		if (w >= 0 && (size_t)w < n) {
			clean(buf);
			if (find_executable(buf, &stat_failed) == 0) {
				if (buf[0] != '/') {
					snprintf(msg, sizeof(msg), "exec: \"%s\": cannot run executable found relative to current directory", file);
					refuse(125, msg);
				}
				return buf;
			}
		}
		if (*end == '\0')
			break;
		dir = end;
	}
	snprintf(msg, sizeof(msg), "exec: \"%s\": executable file not found in $PATH", file);
	refuse(127, msg);
}

/* load_filter loads, with flags, the program the loader's own file (fd)
 * holds at where ("OFFSET+LENGTH"). */
static void load_filter(int fd, const char *flags_arg, const char *where)
{
	char *end, *len_end;
	unsigned long flags = strtoul(flags_arg, &end, 10);
	unsigned long long offset = strtoull(where, &len_end, 10), size = 0;

	if (*len_end == '+')
		size = strtoull(len_end + 1, &len_end, 10);
	if (fd < 0 || *flags_arg == '\0' || *end != '\0' || *where == '\0' || *len_end != '\0' || size == 0 ||
	    size % sizeof(struct sock_filter) != 0 || size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		refuse(125, "unable to init seccomp: the loader's filter is malformed");
	struct sock_filter *insns = malloc(size);
	if (insns == NULL)
		refuse(125, "unable to init seccomp: out of memory");
	if (pread(fd, insns, size, (off_t)offset) != (ssize_t)size)
		refuse(125, "unable to init seccomp: the loader's filter cannot be read");
	struct sock_fprog prog = {
		.len = (unsigned short)(size / sizeof(struct sock_filter)),
		.filter = insns,
	};
	int rc;
	if (flags == 0)
		rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
	else
		rc = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (rc != 0) {
		char msg[256], e[128];
		snprintf(msg, sizeof(msg), "unable to init seccomp: error loading seccomp filter into kernel: %s",
			 go_error(errno, e, sizeof(e)));
		refuse(125, msg);
	}
	free(insns);
}

/* set_caps leaves the capabilities CAPS names (see the top). */
static void set_caps(const char *arg)
{
	unsigned long long bnd, inh, amb;
	int n = 0;

	if (sscanf(arg, "%llx:%llx:%llx%n", &bnd, &inh, &amb, &n) != 3 || arg[n] != '\0')
		refuse(125, "unable to apply caps: the loader's capabilities are malformed");
	for (int c = 0; c < 64; c++) {
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (in < 0)
			break;
		if (in == 1 && !(bnd >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
			refuse(125, "unable to apply bounding set");
	}
	/* libcontainer warns and goes on where the kernel refuses an ambient capability */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int c = 0; c < 64; c++)
		if (amb >> c & 1)
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		refuse(125, "unable to apply caps: capget failed");
	/* what the exec computes the command's capabilities from is bounding,
	 * inheritable and ambient; permitted keeps what ambient needs */
	unsigned long long prm = ((unsigned long long)data[1].permitted << 32 | data[0].permitted) & (inh | amb | bnd);
	for (int i = 0; i < 2; i++) {
		data[i].permitted = (unsigned int)(prm >> (32 * i));
		data[i].effective = data[i].permitted;
		data[i].inheritable = (unsigned int)(inh >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) != 0)
		refuse(125, "unable to apply caps: capset failed");
}

/* own_descriptor is the descriptor argv0 ("/proc/self/fd/N") names, the
 * sealed copy the loader runs from, marked to close at the exec; -1 if
 * argv0 names none. */
static int own_descriptor(const char *argv0)
{
	static const char prefix[] = "/proc/self/fd/";
	char *end;

	if (strncmp(argv0, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	long fd = strtol(argv0 + sizeof(prefix) - 1, &end, 10);
	if (*end != '\0' || fd <= 2 || fd > 65535 || fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	return (int)fd;
}

int seccomp_loader(int argc, char **argv)
{
	if (argc < 7 || strcmp(argv[1], "--seccomp") != 0 || strcmp(argv[5], "--") != 0)
		refuse(125, "usage: docker-init --seccomp FLAGS PROGRAM CAPS -- COMMAND [ARG...]");
	int fd = own_descriptor(argv[0]);
	char **cmd = argv + 6;
	static char found[PATH_MAX + 1];
	const char *path = look_path(cmd[0], found, sizeof(found));
	load_filter(fd, argv[2], argv[3]);
	set_caps(argv[4]);
	execve(path, cmd, environ);
	int err = errno;
	char msg[PATH_MAX + 256], e[128];
	snprintf(msg, sizeof(msg), "exec %s: %s", path, go_error(err, e, sizeof(e)));
	refuse(exit_code(err, 125), msg);
}
