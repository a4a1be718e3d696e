#include "hpcai/runtime/metrics.h"

#include <chrono>
#include <cmath>
#include <cstdio>

namespace hpcai::runtime {

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Json StepMetricsJson(const StepMetrics& m, double unix_time) {
  Json j = Json::MakeObject();
  j.set("type", "train");
  j.set("step", m.step);
  j.set("epoch", m.epoch);
  j.set("loss", m.loss);
  j.set("lr", m.lr);
  j.set("grad_norm", m.grad_norm);
  j.set("samples_per_sec", m.samples_per_sec);
  j.set("data_s", m.data_s);
  j.set("compute_s", m.compute_s);
  j.set("comm_s", m.comm_s);
  j.set("skipped", m.skipped);
  j.set("time_ms", static_cast<int64_t>(unix_time * 1000.0));
  return j;
}

Json EvalMetricsJson(const EvalMetrics& m, double unix_time) {
  Json j = Json::MakeObject();
  j.set("type", "eval");
  j.set("step", m.step);
  j.set("epoch", m.epoch);
  j.set("val_loss", m.val_loss);
  j.set("val_acc", m.val_acc);
  j.set("samples", m.samples);
  j.set("eval_s", m.eval_s);
  j.set("time_ms", static_cast<int64_t>(unix_time * 1000.0));
  return j;
}

std::string FormatDuration(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  const long t = std::lround(s);
  char buf[32];
  if (t < 60) {
    std::snprintf(buf, sizeof buf, "%lds", t);
  } else if (t < 3600) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  }
  return buf;
}

std::string FormatRate(double v) {
  char buf[32];
  if (!std::isfinite(v)) return "?";
  if (v < 1000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (v < 1e6) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  }
  return buf;
}

std::string ProgressLine(const StepMetrics& m, double eta_seconds) {
  const double step_s = m.data_s + m.compute_s + m.comm_s;
  auto pct = [&](double x) { return step_s > 0 ? 100.0 * x / step_s : 0.0; };
  const int width = static_cast<int>(std::to_string(m.total_steps).size());
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "step %*lld/%lld ep %lld/%lld loss %.4f lr %.3g | %s samples/s | data %.0f%% comm %.0f%% | eta %s",
                width, static_cast<long long>(m.step), static_cast<long long>(m.total_steps),
                static_cast<long long>(m.epoch), static_cast<long long>(m.epochs), m.loss, m.lr,
                FormatRate(m.samples_per_sec).c_str(), pct(m.data_s), pct(m.comm_s),
                FormatDuration(eta_seconds).c_str());
  std::string line = buf;
  if (m.skipped > 0) line += " | skipped " + std::to_string(m.skipped) + " non-finite steps";
  return line;
}

std::string EvalLine(const EvalMetrics& m) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "eval step %lld ep %lld: val_loss %.4f val_acc %.4f (%lld samples, %.1fs)",
                static_cast<long long>(m.step), static_cast<long long>(m.epoch), m.val_loss, m.val_acc,
                static_cast<long long>(m.samples), m.eval_s);
  return buf;
}

}  // namespace hpcai::runtime
