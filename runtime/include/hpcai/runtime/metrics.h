// What hpcai-train reports: metrics.jsonl lines and the progress line
// (fields documented in docs/runtime.md).  Pure formatting, unit-tested.
#pragma once

#include <cstdint>
#include <string>

#include "hpcai/base/json.h"

namespace hpcai::runtime {

// One logging window of training steps (averages over the window).
struct StepMetrics {
  int64_t step = 0;          // optimizer steps completed (1-based count)
  int64_t total_steps = 0;
  int64_t epoch = 0;         // 1-based epoch of the last step in the window
  int64_t epochs = 0;
  double loss = 0;           // mean training loss (global) over the window
  double lr = 0;             // learning rate of the last step
  double grad_norm = 0;      // global gradient norm of the last step (before clipping)
  double samples_per_sec = 0;  // global samples / wall second over the window
  double data_s = 0;         // seconds per step waiting for the reader
  double compute_s = 0;      // seconds per step in forward/backward/optimizer
  double comm_s = 0;         // seconds per step in gradient sync not hidden by backward
  int64_t skipped = 0;       // non-finite steps skipped so far
};

struct EvalMetrics {
  int64_t step = 0;
  int64_t epoch = 0;
  double val_loss = 0;
  double val_acc = 0;
  int64_t samples = 0;
  double eval_s = 0;
};

// time_ms: unix time in milliseconds (an integer: JSON doubles here keep 9 digits).
// {"type":"train","step":..,"epoch":..,"loss":..,"lr":..,"grad_norm":..,
//  "samples_per_sec":..,"data_s":..,"compute_s":..,"comm_s":..,"skipped":..,"time_ms":..}
Json StepMetricsJson(const StepMetrics& m, double unix_time);
// {"type":"eval","step":..,"epoch":..,"val_loss":..,"val_acc":..,"samples":..,"eval_s":..,"time_ms":..}
Json EvalMetricsJson(const EvalMetrics& m, double unix_time);

// "step   50/2350 ep 1/10 loss 0.5432 lr 0.05 | 12.3k samples/s | data 1% comm 6% | eta 2m10s"
std::string ProgressLine(const StepMetrics& m, double eta_seconds);
// "eval step 235 ep 1: val_loss 0.4123 val_acc 0.8561 (10000 samples, 0.8s)"
std::string EvalLine(const EvalMetrics& m);

// 59 -> "59s", 130 -> "2m10s", 7322 -> "2h02m"; negative -> "?".
std::string FormatDuration(double seconds);
// 950 -> "950", 12345 -> "12.3k", 2.5e6 -> "2.50M".
std::string FormatRate(double per_second);

double UnixNow();

}  // namespace hpcai::runtime
