// The CUDA backend (cuBLAS GEMMs + own kernels over elements.h / math.h).
//
// Declared for every build, with no CUDA types, so code that names it
// compiles everywhere; DEFINED only in CUDA builds (library
// hpcai_kernels_cuda).  Only kernels/src/registry.cc (behind
// HPCAI_WITH_CUDA) and the CUDA-only tests/gpu call these; everything else
// goes through CreateBackend({"cuda", ...}) in backend.h.
//
// NOT RUN on this project's machines (no GPU exists there): compiled and
// linked for sm_80/sm_90 only.  docs/gpu.md says what is verified where.
#pragma once

#include <memory>
#include <string>

#include "hpcai/base/status.h"
#include "hpcai/kernels/backend.h"

namespace hpcai::kernels::cuda {

// Number of visible CUDA devices (CUDA_VISIBLE_DEVICES applies).  With none,
// FailedPrecondition "no CUDA device visible (cudaGetDeviceCount: <name>:
// <reason>)" — one line a user can act on, and no hang.
Result<int> DeviceCount();

// The device this process should use: `requested` when >= 0 (checked
// against the count), else the node-local rank (SLURM_LOCALID, then
// OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID; 0 if none) modulo the count:
// one rank per GPU.
Result<int> SelectDevice(int requested);

// "NVIDIA A100-SXM4-40GB (sm_80, 40.0 GiB)" for logs.
Result<std::string> DeviceDescription(int device);

// A backend on `device` (-1: SelectDevice(-1)) with one compute stream, one
// copy stream for staged inputs, and a cuBLAS handle on the compute stream.
// allow_tf32 lets cuBLAS use TF32 tensor cores for the fp32 GEMMs
// (training.precision: tf32); otherwise GEMMs are full fp32.
// Ops that fail on the device end the process with a message naming the
// call, file:line, host and device (an op has no Status channel, and a
// failed device cannot continue the step).
Result<std::unique_ptr<Backend>> CreateCudaBackend(int device, bool allow_tf32);

}  // namespace hpcai::kernels::cuda
