#include "tools/dataset/comm.h"

#include <algorithm>
#include <cstdlib>

#ifdef GLASSBOX_MPI
#define OMPI_SKIP_MPICXX 1  // the C bindings only (Open MPI's C++ ones do not compile with -Werror)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace glassbox::tools::dataset {

int Comm::launcher_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* n = std::getenv(v)) return std::max(1, std::atoi(n));
  return 1;
}

bool Comm::built_with_mpi() {
#ifdef GLASSBOX_MPI
  return true;
#else
  return false;
#endif
}

Comm::Comm(int* argc, char*** argv) {
#ifdef GLASSBOX_MPI
  if (!std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("PMI_SIZE") && !std::getenv("PMIX_RANK")) return;
  MPI_Init(argc, argv);
  mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
#else
  (void)argc, (void)argv;
#endif
}

Comm::~Comm() {
#ifdef GLASSBOX_MPI
  if (mpi_) MPI_Finalize();
#endif
}

std::vector<double> Comm::gather(const std::vector<double>& mine) {
#ifdef GLASSBOX_MPI
  if (mpi_) {
    std::vector<double> all(rank_ == 0 ? mine.size() * size_ : 0);
    MPI_Gather(mine.data(), int(mine.size()), MPI_DOUBLE, all.data(), int(mine.size()), MPI_DOUBLE, 0,
               MPI_COMM_WORLD);
    return all;
  }
#endif
  return mine;
}

void Comm::barrier() {
#ifdef GLASSBOX_MPI
  if (mpi_) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void Comm::abort(int code) {
#ifdef GLASSBOX_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace glassbox::tools::dataset
