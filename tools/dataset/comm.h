// The ranks of a dataset run: MPI when glassbox is built with it (GLASSBOX_MPI) and the process was started by
// mpirun (Open MPI's OMPI_COMM_WORLD_SIZE, or a PMI/PMIx launcher's variables), else one rank doing everything.
#pragma once
#include <vector>

namespace glassbox::tools::dataset {

class Comm {
 public:
  Comm(int* argc, char*** argv);  // MPI_Init where launched by mpirun
  ~Comm();                        // MPI_Finalize
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among the ranks of this node (the GPU to take)
  int local_size() const { return local_size_; }
  bool mpi() const { return mpi_; }
  static bool built_with_mpi();
  // The number of ranks the launcher's environment announces (OMPI_COMM_WORLD_SIZE, PMI_SIZE; else 1).
  static int launcher_size();

  // Every rank's `mine` (the same length on every rank), concatenated in rank order on rank 0; empty elsewhere.
  std::vector<double> gather(const std::vector<double>& mine);
  void barrier();
  [[noreturn]] void abort(int code);  // ends every rank (MPI_Abort), or this process

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool mpi_ = false;
};

}  // namespace glassbox::tools::dataset
