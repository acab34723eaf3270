/*
 * The seccomp loader: "docker-init --seccomp FLAGS PROGRAM CAPS -- COMMAND [ARG...]".
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
 *   2. loads PROGRAM (the filter's instructions, hex of struct sock_filter
 *      in host byte order) with FLAGS (SECCOMP_FILTER_FLAG_*), as runc's
 *      patchbpf does;
 *   3. executes COMMAND with the environment it was given.
 *
 * Its own descriptor (argv[0] is /proc/self/fd/N) is closed by that exec.
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

/* exit_code is docker's status for a command that cannot start. */
static int exit_code(int err)
{
	switch (err) {
	case ENOENT:
		return 127;
	case EACCES:
	case EISDIR:
	case ENOEXEC:
		return 126;
	}
	return 125;
}

static void __attribute__((noreturn)) refuse(int code, const char *what)
{
	fprintf(stderr, "dockless: unable to start container process: %s\n", what);
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
		refuse(exit_code(err), msg);
	}
	const char *path = getenv("PATH");
	if (path == NULL)
		path = "";
	for (const char *dir = path;; dir++) {
		const char *end = strchrnul(dir, ':');
		int len = (int)(end - dir);
		if (len == 0)
			snprintf(buf, n, "./%s", file);
		else
			snprintf(buf, n, "%.*s/%s", len, dir, file);
		if (find_executable(buf, &stat_failed) == 0) {
			if (buf[0] != '/') {
				snprintf(msg, sizeof(msg), "exec: \"%s\": cannot run executable found relative to current directory", file);
				refuse(125, msg);
			}
			return buf;
		}
		if (*end == '\0')
			break;
		dir = end;
	}
	snprintf(msg, sizeof(msg), "exec: \"%s\": executable file not found in $PATH", file);
	refuse(127, msg);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* load_filter loads the hex program with flags on this process. */
static void load_filter(const char *flags_arg, const char *hex)
{
	size_t hex_len = strlen(hex), size = hex_len / 2;
	char *end;
	unsigned long flags = strtoul(flags_arg, &end, 10);

	if (*flags_arg == '\0' || *end != '\0' || hex_len % 2 != 0 || size == 0 ||
	    size % sizeof(struct sock_filter) != 0 || size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		refuse(125, "unable to init seccomp: the loader's filter is malformed");
	unsigned char *raw = malloc(size);
	if (raw == NULL)
		refuse(125, "unable to init seccomp: out of memory");
	for (size_t i = 0; i < size; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			refuse(125, "unable to init seccomp: the loader's filter is malformed");
		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	struct sock_fprog prog = {
		.len = (unsigned short)(size / sizeof(struct sock_filter)),
		.filter = (struct sock_filter *)raw,
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
}

/* set_caps leaves the capabilities CAPS names (see the top). */
static void set_caps(const char *arg)
{
	unsigned long long bnd, inh, amb;
	int n = 0;

	if (strcmp(arg, "-") == 0)
		return;
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

/* own_descriptor closes, at the exec, the descriptor argv0
 * ("/proc/self/fd/N") names: the sealed copy the loader runs from. */
static void own_descriptor(const char *argv0)
{
	static const char prefix[] = "/proc/self/fd/";
	char *end;

	if (strncmp(argv0, prefix, sizeof(prefix) - 1) != 0)
		return;
	long fd = strtol(argv0 + sizeof(prefix) - 1, &end, 10);
	if (*end == '\0' && fd > 2)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

int seccomp_loader(int argc, char **argv)
{
	if (argc < 7 || strcmp(argv[1], "--seccomp") != 0 || strcmp(argv[5], "--") != 0)
		refuse(125, "usage: docker-init --seccomp FLAGS PROGRAM CAPS -- COMMAND [ARG...]");
	own_descriptor(argv[0]);
	char **cmd = argv + 6;
	static char found[PATH_MAX + 1];
	const char *path = look_path(cmd[0], found, sizeof(found));
	load_filter(argv[2], argv[3]);
	set_caps(argv[4]);
	execve(path, cmd, environ);
	int err = errno;
	char msg[PATH_MAX + 256], e[128];
	snprintf(msg, sizeof(msg), "exec %s: %s", path, go_error(err, e, sizeof(e)));
	refuse(exit_code(err), msg);
}
