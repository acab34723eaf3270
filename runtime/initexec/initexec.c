// The small init's entry; why and when it acts is in doc.go.

#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

void nsexec(void);

void dockless_init_exec_linked(void) {}

static const char levelKey[] = "_LIBCONTAINER_LOGLEVEL=";

// cloexec_self marks close-on-exec the descriptors of this executable: the
// sealed copy of dockless that libcontainer executed the init from and
// passes down, not close-on-exec (runc's init closes it only when it
// executes the container's process). The small init then never holds it,
// and no process of a container created and not yet started (whose init
// is dumpable: an OCI container's) reaches it through /proc/<init>/fd.
static void cloexec_self(void)
{
	struct stat self, st;
	if (stat("/proc/self/exe", &self) != 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return;
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (*end != '\0' || fd <= 2 || fd == dirfd(d))
			continue;
		if (fstat((int)fd, &st) == 0 && st.st_dev == self.st_dev && st.st_ino == self.st_ino)
			fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

// dockless_init_exec runs after the setuid entry guard (secure.c, 101) and
// before nsenter's constructor (default priority, after every prioritised
// one). glibc passes constructors argc, argv and envp.
__attribute__((constructor(102))) static void dockless_init_exec(int argc, char **argv, char **envp)
{
	if (argc < 2 || strcmp(argv[1], "init") != 0 || getauxval(AT_SECURE) != 0)
		return;
	char *level = NULL;
	for (char **e = envp; *e != NULL && level == NULL; e++)
		if (strncmp(*e, levelKey, sizeof(levelKey) - 1) == 0)
			level = *e; // the first, as getenv and the Go runtime read it
	char *mark = level ? strstr(level, ":fd=") : NULL;
	if (mark == NULL)
		return;
	char *end;
	long fd = strtol(mark + 4, &end, 10);
	struct stat st;
	// The variable is restored in place (the strings are the process's
	// own): the Go runtime reads it from there.
	*mark = '\0';
	if (*end != '\0' || fd < 3 || fd > 65535)
		return; // libcontainer's init of this binary, as without the mark
	if (fstat((int)fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close((int)fd); // not for the container's process
		return;
	}
	nsexec();
	// Only the final child gets here, in the container's namespaces. The
	// exec closes the descriptor, and dockless's own: the small init holds
	// neither.
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	cloexec_self();
	syscall(SYS_execveat, (int)fd, "", argv, envp, AT_EMPTY_PATH);
	fprintf(stderr, "dockless: executing the container's init (dockless-runinit): %m\n");
	_exit(1);
}
