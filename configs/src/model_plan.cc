#include "hpcai/configs/model_plan.h"

#include <string>

namespace hpcai {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

namespace {

// Saturating helpers: hostile shapes must not overflow.
constexpr int64_t kCap = int64_t{1} << 60;
int64_t Mul(int64_t a, int64_t b) { return (a != 0 && b > kCap / a) ? kCap : a * b; }
int64_t Add(int64_t a, int64_t b) { return a > kCap - b ? kCap : a + b; }

}  // namespace

Result<ModelPlan> PlanModel(const ResolvedSpec& spec, const std::vector<int64_t>& sample_shape,
                            int num_classes) {
  const ModelSpec& m = spec.model;
  ModelPlan plan;
  if (num_classes < 2) {
    return Status::SpecError("the data has " + std::to_string(num_classes) +
                             " classes; classification needs at least 2");
  }
  if (sample_shape.empty()) return Status::SpecError("the data's sample shape is empty");
  int64_t features = 1;
  for (int64_t d : sample_shape) {
    if (d < 1) return Status::SpecError("the data's sample shape " + ShapeText(sample_shape) + " has a zero or negative dimension");
    features = Mul(features, d);
  }
  plan.input_features = features;
  int64_t params = 0;
  int64_t in = features;
  if (m.type == "cnn") {
    if (sample_shape.size() != 3) {
      return Status::SpecError("model.type cnn needs image samples of shape CxHxW (e.g. 1x28x28), but the data's samples are " +
                               ShapeText(sample_shape) +
                               " (rank " + std::to_string(sample_shape.size()) +
                               "); use model.type mlp, or convert the data with its image shape");
    }
    int64_t c = sample_shape[0];
    int64_t h = sample_shape[1];
    int64_t w = sample_shape[2];
    plan.summary = "cnn " + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
    for (size_t i = 0; i < m.conv.size(); ++i) {
      const ConvLayerSpec& l = m.conv[i];
      int64_t oh = (h + 2 * l.padding - l.kernel);
      int64_t ow = (w + 2 * l.padding - l.kernel);
      if (oh < 0 || ow < 0) {
        return Status::SpecError("model.conv[" + std::to_string(i) + "]: kernel " + std::to_string(l.kernel) +
                                 " (padding " + std::to_string(l.padding) + ") is larger than its " +
                                 std::to_string(h) + "x" + std::to_string(w) + " input");
      }
      oh = oh / l.stride + 1;
      ow = ow / l.stride + 1;
      params = Add(params, Add(Mul(Mul(Mul(l.filters, c), l.kernel), l.kernel), l.filters));
      if (oh / l.pool < 1 || ow / l.pool < 1) {
        return Status::SpecError("model.conv[" + std::to_string(i) + "]: pool " + std::to_string(l.pool) +
                                 " is larger than its " + std::to_string(oh) + "x" + std::to_string(ow) +
                                 " feature map (input " + ShapeText(sample_shape) + "); use fewer conv layers or a smaller pool");
      }
      h = oh / l.pool;
      w = ow / l.pool;
      c = l.filters;
      plan.summary += " -> " + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
    }
    in = Mul(Mul(c, h), w);
  } else {
    plan.summary = m.type + " " + std::to_string(features);
  }
  for (int width : m.hidden) {
    params = Add(params, Add(Mul(in, width), width));
    in = width;
    plan.summary += (m.type == "cnn" ? " -> " : "-") + std::to_string(width);
  }
  params = Add(params, Add(Mul(in, num_classes), num_classes));
  plan.summary += (m.type == "cnn" ? " -> " : "-") + std::to_string(num_classes);
  plan.parameters = params;
  const auto& o = spec.optimizer;
  plan.optimizer_slots = (o.type == "adam" || o.type == "adamw") ? 2 : (o.momentum > 0 ? 1 : 0);
  plan.checkpoint_bytes = Add(Mul(Mul(params, 4), 1 + plan.optimizer_slots), 64 * 1024);
  return plan;
}

}  // namespace hpcai
