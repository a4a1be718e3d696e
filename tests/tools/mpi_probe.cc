// mpi_probe: a tiny MPI program used by the cluster integration tests to
// prove that ranks on different Slurm nodes really take part in one
// allreduce.  Each rank prints "rank R/N node=<SLURMD_NODENAME> sum=S";
// S must equal N*(N+1)/2 on every rank.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  long mine = rank + 1, sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  const char* node = std::getenv("SLURMD_NODENAME");
  std::printf("rank %d/%d node=%s sum=%ld\n", rank, size, node ? node : "none", sum);
  std::fflush(stdout);
  MPI_Finalize();
  return sum == static_cast<long>(size) * (size + 1) / 2 ? 0 : 1;
}
