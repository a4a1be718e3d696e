// Entry point of libhpcai_cli_io.so: the table of cli_io.h.
#include "../cli_io.h"
#include "../data_args.h"
#include "hpcai/io/reader.h"

namespace hpcai::cli {

int DataRunConvert(ConvertArgs& a);
int DataRunSynth(SynthArgs& a);
int DataRunInspect(const InspectArgs& a);
int DataRunBench(const BenchArgs& a);

namespace {

Result<DataShapeInfo> ReadInfo(const std::string& dir, const std::string& x, const std::string& y) {
  HPCAI_ASSIGN_OR_RETURN(auto info, io::ReadDatasetInfo(dir, x, y));
  DataShapeInfo out;
  out.num_samples = info.num_samples;
  out.sample_shape = info.sample_shape;
  out.dtype = info.dtype;
  out.num_classes = info.num_classes;
  return out;
}

const CliIoTable kTable = {
    kCliIoAbi, sizeof(CliIoTable), &ReadInfo, &DataRunConvert, &DataRunSynth, &DataRunInspect, &DataRunBench,
    &io::ReadCheckpoint, &io::FindLatestValid, &io::ListCheckpoints,
};

}  // namespace
}  // namespace hpcai::cli

extern "C" __attribute__((visibility("default"))) const hpcai::cli::CliIoTable* hpcai_cli_io_table() {
  return &hpcai::cli::kTable;
}
