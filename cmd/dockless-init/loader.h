/* The seccomp loader (loader.c): never returns. */
int seccomp_loader(int argc, char **argv) __attribute__((noreturn));

/* exit_code is docker's status for a command that cannot start with errno
 * err (127 not found; 126 not executable), otherwise for any other. */
int exit_code(int err, int otherwise);
