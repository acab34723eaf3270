/* ranks: the MPI program of the two-host Open MPI test (mpi_e2e_test.go).
 * Each rank prints one line: its rank, uid, the host name, the namespaces it
 * runs in, its parent (mpirun or orted: 0 is outside its PID namespace),
 * the PID namespace's init, the ranks of its host as read through a shared-memory window
 * (MPI_Win_allocate_shared over MPI_COMM_TYPE_SHARED: only ranks sharing
 * memory see each other's values), a token passed around a ring and the
 * MPI_Allreduce sum of rank+1. Then the rank named by argv[1] exits with
 * the status argv[2], after MPI_Finalize. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void ns(const char *name, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/self/ns/%s", name);
	n = readlink(path, out, len - 1);
	out[n < 0 ? 0 : n] = '\0';
}

/* first reads the first word (to a NUL or newline) of a file. */
static void first(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(out, 1, len - 1, f) : 0;

	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	int rank, size, lrank, lsize, token, sum, one, i;
	int *mine, *peer;
	char host[256], mnt[64], pid[64], ipc[64], uts[64], shm[256] = "";
	char path[64], parent[64], init[256];
	MPI_Comm node;
	MPI_Win win;
	MPI_Aint sz;
	int disp;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	gethostname(host, sizeof host);
	ns("mnt", mnt, sizeof mnt);
	ns("pid", pid, sizeof pid);
	ns("ipc", ipc, sizeof ipc);
	ns("uts", uts, sizeof uts);
	snprintf(path, sizeof path, "/proc/%d/comm", (int)getppid());
	first(path, parent, sizeof parent);
	first("/proc/1/cmdline", init, sizeof init);

	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &lrank);
	MPI_Comm_size(node, &lsize);
	MPI_Win_allocate_shared(sizeof(int), sizeof(int), MPI_INFO_NULL, node, &mine, &win);
	MPI_Win_lock_all(0, win);
	*mine = rank;
	MPI_Win_sync(win);
	MPI_Barrier(node);
	MPI_Win_sync(win);
	for (i = 0; i < lsize; i++) {
		MPI_Win_shared_query(win, i, &sz, &disp, &peer);
		snprintf(shm + strlen(shm), sizeof shm - strlen(shm), "%s%d", i ? "," : "", *peer);
	}
	MPI_Win_unlock_all(win);

	/* A token around the ring: rank 0 starts it at 0, each adds its rank. */
	token = 0;
	if (size > 1) {
		if (rank == 0) {
			MPI_Send(&token, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);
			MPI_Recv(&token, 1, MPI_INT, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else {
			MPI_Recv(&token, 1, MPI_INT, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			token += rank;
			MPI_Send(&token, 1, MPI_INT, (rank + 1) % size, 0, MPI_COMM_WORLD);
		}
	}
	MPI_Bcast(&token, 1, MPI_INT, 0, MPI_COMM_WORLD);
	one = rank + 1;
	MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

	printf("rank %d/%d uid=%d host=%s node=%d/%d shm=%s ring=%d allreduce=%d parent=%s init=%s mnt=%s pid=%s ipc=%s uts=%s\n",
	       rank, size, (int)getuid(), host, lrank, lsize, shm, token, sum, parent, init, mnt, pid, ipc, uts);
	fflush(stdout);
	MPI_Win_free(&win);
	MPI_Comm_free(&node);
	MPI_Finalize();
	if (argc > 2 && atoi(argv[1]) == rank)
		return atoi(argv[2]);
	return 0;
}
