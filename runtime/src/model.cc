// Models: linear, mlp and cnn as a sequence of layers (layers.h), run as
// one task per CPU thread over row shards of the batch.
#include "hpcai/runtime/model.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "hpcai/kernels/backend.h"
#include "hpcai/kernels/cpu.h"
#include "hpcai/kernels/parallel.h"
#include "layers.h"

namespace hpcai::runtime {
namespace {

using detail::Layer;
using kernels::Activation;
using kernels::Backend;

std::string WithCommas(int64_t v) {
  // Built front to back (std::string::insert trips GCC 12's -Wrestrict).
  const std::string digits = std::to_string(v);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

Result<Activation> ParseActivation(const std::string& name) {
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "tanh") return Activation::kTanh;
  return Status::InvalidArgument("model.activation: expected relu | gelu | tanh, got '" + name + "'");
}

// He (normal, std sqrt(2/fan_in)) or Xavier/Glorot (uniform, a = sqrt(6/(fan_in+fan_out))).
void InitWeights(const std::string& init, int64_t fan_in, int64_t fan_out, uint64_t seed,
                 std::vector<float>* w) {
  Rng rng(seed);
  if (init == "xavier") {
    const float a = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
    for (float& v : *w) v = a * (2.0f * rng.Uniform() - 1.0f);
  } else {
    const float sd = std::sqrt(2.0f / static_cast<float>(fan_in));
    for (float& v : *w) v = sd * rng.Normal();
  }
}

class SequentialModel final : public Model {
 public:
  explicit SequentialModel(Backend* be) : be_(be) {}
  // A model that owns its (device) backend.
  explicit SequentialModel(std::unique_ptr<Backend> be) : owned_be_(std::move(be)) {
    be_ = owned_be_.get();
  }
  ~SequentialModel() override {
    layers_.clear();  // layer buffers are freed through the backend: before it goes
    param_bufs_.clear();
  }

  Status Build(const ModelSpec& spec, const std::vector<int64_t>& input_shape, int num_classes,
               uint64_t seed);

  std::vector<Param*> params() override {
    std::vector<Param*> out;
    for (auto& p : params_) out.push_back(p.get());
    return out;
  }
  int num_layers() const override { return static_cast<int>(layers_.size()); }
  std::string Describe() const override { return description_; }

  double ForwardBackward(const float* x, const int32_t* y, int64_t n, int64_t global_n,
                         Rng* dropout_rng,
                         const std::function<void(int layer)>& on_layer_ready) override;
  void Evaluate(const float* x, const int32_t* y, int64_t n, double* loss_sum,
                int64_t* correct) override;
  void SetThreads(int threads) override {
    if (be_->reentrant()) kernels::SetCpuThreads(threads);
  }
  void Reserve(int64_t max_batch) override { EnsureCapacity(max_batch, Tasks()); }
  std::string DiagnoseNonFinite() override;
  Backend* backend() override { return be_; }
  void* device_stream() const override { return be_->native_stream(); }
  void SyncToHost() override {
    if (be_->host_memory()) return;
    for (auto& p : params_) {
      be_->CopyOut(p->value.data(), p->device_value, p->size());
      be_->CopyOut(p->grad.data(), p->device_grad, p->size());
    }
  }
  void SyncToDevice() override {
    if (be_->host_memory()) return;
    for (auto& p : params_) be_->CopyIn(p->device_value, p->value.data(), p->size());
  }

 private:
  int Tasks() const { return be_->reentrant() ? kernels::CpuPool().threads() : 1; }
  void EnsureCapacity(int64_t rows, int tasks);
  // The first layer's input for rows [b, e): the caller's x itself when it is
  // already in the layout and memory the kernels need, else a converted copy.
  const float* StageInput(int64_t b, int64_t e, const float* x);
  const int32_t* StageLabels(int64_t b, int64_t e, const int32_t* y);
  // Device backends: this step's ops are the last readers of the staged
  // inputs in slot_; the next step stages into the other slot.
  void FinishSlot() {
    if (be_->host_memory()) return;
    be_->ReleaseSlot(slot_);
    slot_ ^= 1;
  }
  void RunTasks(const std::function<void(int)>& task, int tasks) {
    if (tasks > 1) {
      kernels::CpuPool().Run(task);
    } else {
      task(0);
    }
  }
  // Forward of rows [b, e) through every layer; returns the first layer's input.
  const float* ForwardRows(const detail::StepContext& c, int t, int64_t b, int64_t e,
                           const float* x);

  std::unique_ptr<Backend> owned_be_;  // device backends; the CPU backend is process-wide
  Backend* be_ = nullptr;
  std::vector<std::unique_ptr<detail::Buffer>> param_bufs_;  // device storage of params
  std::vector<std::unique_ptr<Param>> params_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<float> dropout_;      // per layer (0 = none)
  std::vector<uint64_t> seeds_;     // per layer, drawn each training step
  std::string description_;
  int64_t input_size_ = 0;          // features per sample
  int64_t in_c_ = 1, in_h_ = 1, in_w_ = 1;
  bool nchw_to_nhwc_ = false;       // cnn with more than one input channel
  int num_classes_ = 0;
  int64_t capacity_ = 0;            // rows the buffers hold
  int capacity_tasks_ = 0;
  detail::Buffer input_;              // inputs converted to NHWC (cnn, > 1 channel)
  // Device backends: inputs and labels staged per step, double-buffered
  // (slot = step parity) so the next batch's copy overlaps this step's compute.
  detail::Buffer input_raw_[2];
  detail::IntBuffer labels_[2];
  int slot_ = 0;
  std::vector<double> loss_parts_;
  std::vector<int64_t> correct_parts_;
  int64_t last_n_ = 0;                // rows of the last forward (for DiagnoseNonFinite)
};

Status SequentialModel::Build(const ModelSpec& spec, const std::vector<int64_t>& input_shape,
                              int num_classes, uint64_t seed) {
  if (num_classes < 2) {
    return Status::InvalidArgument("model: the data set has " + std::to_string(num_classes) +
                                   " classes; classification needs at least 2");
  }
  if (input_shape.empty()) return Status::InvalidArgument("model: empty input shape");
  input_size_ = 1;
  for (int64_t d : input_shape) {
    if (d <= 0) return Status::InvalidArgument("model: input shape has a non-positive dimension");
    input_size_ *= d;
  }
  num_classes_ = num_classes;
  if (spec.init != "he" && spec.init != "xavier") {
    return Status::InvalidArgument("model.init: expected he | xavier, got '" + spec.init + "'");
  }
  if (!(spec.dropout >= 0.0 && spec.dropout < 1.0)) {
    return Status::InvalidArgument("model.dropout: expected a probability in [0, 1), got " +
                                   std::to_string(spec.dropout));
  }
  Activation act = Activation::kRelu;
  if (spec.type != "linear") {
    HPCAI_ASSIGN_OR_RETURN(act, ParseActivation(spec.activation));
  }

  auto add_param = [&](const std::string& name, std::vector<int64_t> shape, int layer,
                       bool decay) -> Param* {
    auto p = std::make_unique<Param>();
    p->name = name;
    p->shape = std::move(shape);
    int64_t size = 1;
    for (int64_t d : p->shape) size *= d;
    p->value.assign(size, 0.0f);
    p->grad.assign(size, 0.0f);
    p->layer = layer;
    p->decay = decay;
    if (!be_->host_memory()) {
      for (float** dst : {&p->device_value, &p->device_grad}) {
        param_bufs_.push_back(std::make_unique<detail::Buffer>());
        param_bufs_.back()->Ensure(be_, size);
        *dst = param_bufs_.back()->data();
      }
    }
    params_.push_back(std::move(p));
    return params_.back().get();
  };
  auto add_dense = [&](int64_t in, int64_t out, Activation a, float dropout) {
    const int index = static_cast<int>(layers_.size());
    int dense_index = 0;
    for (auto& l : layers_) dense_index += l->name().rfind("dense", 0) == 0 ? 1 : 0;
    const std::string name = "dense" + std::to_string(dense_index);
    Param* w = add_param(name + ".weight", {out, in}, index, true);
    Param* b = add_param(name + ".bias", {out}, index, false);
    InitWeights(spec.init, in, out, MixSeed(seed, static_cast<uint64_t>(index) + 1, 0x1417), &w->value);
    detail::DenseConfig cfg{name, index, in, out, a, dropout};
    layers_.push_back(detail::MakeDense(cfg, be_, w, b));
    dropout_.push_back(dropout);
  };

  std::ostringstream desc;
  if (spec.type == "linear" || spec.type == "mlp") {
    int64_t in = input_size_;
    desc << spec.type << " " << in;
    if (spec.type == "mlp") {
      for (size_t i = 0; i < spec.hidden.size(); ++i) {
        const int h = spec.hidden[i];
        if (h <= 0) {
          return Status::InvalidArgument("model.hidden[" + std::to_string(i) +
                                         "]: expected a positive width, got " + std::to_string(h));
        }
        add_dense(in, h, act, static_cast<float>(spec.dropout));
        in = h;
        desc << "-" << h;
      }
    }
    add_dense(in, num_classes, Activation::kIdentity, 0.0f);
    desc << "-" << num_classes;
    if (spec.type == "mlp" && !spec.hidden.empty()) desc << " " << spec.activation;
    if (spec.type == "mlp" && spec.dropout > 0) desc << " dropout " << spec.dropout;
  } else if (spec.type == "cnn") {
    if (input_shape.size() != 3) {
      return Status::InvalidArgument(
          "model.type cnn: expects image samples of shape (channels, height, width), but the data "
          "set's samples have " + std::to_string(input_shape.size()) +
          " dimension(s) (hint: use model.type mlp for flat features)");
    }
    in_c_ = input_shape[0];
    in_h_ = input_shape[1];
    in_w_ = input_shape[2];
    nchw_to_nhwc_ = in_c_ > 1;
    std::vector<ConvLayerSpec> convs = spec.conv;
    if (convs.empty()) {  // the documented default: two 3x3 conv blocks with 2x2 pooling
      ConvLayerSpec a;
      a.filters = 32;
      ConvLayerSpec b;
      b.filters = 64;
      convs = {a, b};
    }
    int64_t h = in_h_, w = in_w_, c = in_c_;
    desc << "cnn " << c << "x" << h << "x" << w;
    for (size_t i = 0; i < convs.size(); ++i) {
      const ConvLayerSpec& cs = convs[i];
      const std::string key = "model.conv[" + std::to_string(i) + "]";
      if (cs.filters <= 0 || cs.kernel <= 0 || cs.stride <= 0 || cs.padding < 0 || cs.pool <= 0) {
        return Status::InvalidArgument(key + ": filters, kernel, stride and pool must be positive "
                                       "and padding >= 0");
      }
      kernels::ConvGeometry g{h, w, c, cs.kernel, cs.stride, cs.padding};
      if (h + 2 * cs.padding < cs.kernel || w + 2 * cs.padding < cs.kernel) {
        return Status::InvalidArgument(key + ": kernel " + std::to_string(cs.kernel) +
                                       " is larger than the padded " + std::to_string(h) + "x" +
                                       std::to_string(w) + " feature map");
      }
      if (cs.pool > g.out_h() || cs.pool > g.out_w()) {
        return Status::InvalidArgument(
            key + ": pooling window " + std::to_string(cs.pool) + " is larger than the " +
            std::to_string(g.out_h()) + "x" + std::to_string(g.out_w()) +
            " feature map after the convolution (hint: fewer conv blocks, pool: 1, or padding)");
      }
      const int index = static_cast<int>(layers_.size());
      const std::string name = "conv" + std::to_string(i);
      Param* wp = add_param(name + ".weight", {cs.filters, cs.kernel, cs.kernel, c}, index, true);
      Param* bp = add_param(name + ".bias", {cs.filters}, index, false);
      InitWeights(spec.init, cs.kernel * cs.kernel * c, cs.kernel * cs.kernel * cs.filters,
                  MixSeed(seed, static_cast<uint64_t>(index) + 1, 0x1417), &wp->value);
      detail::ConvConfig cfg;
      cfg.name = name;
      cfg.index = index;
      cfg.in_h = h;
      cfg.in_w = w;
      cfg.in_c = c;
      cfg.filters = cs.filters;
      cfg.kernel = cs.kernel;
      cfg.stride = cs.stride;
      cfg.padding = cs.padding;
      cfg.pool = cs.pool;
      cfg.act = act;
      layers_.push_back(detail::MakeConv(cfg, be_, wp, bp));
      dropout_.push_back(0.0f);
      h = g.out_h() / cs.pool;
      w = g.out_w() / cs.pool;
      c = cs.filters;
      desc << " conv" << cs.filters << "k" << cs.kernel << "s" << cs.stride << "p" << cs.padding;
      if (cs.pool > 1) desc << "/pool" << cs.pool;
    }
    int64_t in = h * w * c;
    for (size_t i = 0; i < spec.hidden.size(); ++i) {
      const int hd = spec.hidden[i];
      if (hd <= 0) {
        return Status::InvalidArgument("model.hidden[" + std::to_string(i) +
                                       "]: expected a positive width, got " + std::to_string(hd));
      }
      add_dense(in, hd, act, static_cast<float>(spec.dropout));
      in = hd;
      desc << " " << (i == 0 ? "dense " : "-") << hd;
    }
    add_dense(in, num_classes, Activation::kIdentity, 0.0f);
    desc << (spec.hidden.empty() ? " dense " : "-") << num_classes << " " << spec.activation;
    if (spec.dropout > 0) desc << " dropout " << spec.dropout;
  } else {
    return Status::InvalidArgument("model.type: expected linear | mlp | cnn, got '" + spec.type + "'");
  }
  int64_t total = 0;
  for (auto& p : params_) total += p->size();
  desc << " (" << WithCommas(total) << " params)";
  description_ = desc.str();
  if (!be_->host_memory()) description_ += " on " + be_->name();
  seeds_.assign(layers_.size(), 0);
  SyncToDevice();  // the initial values were drawn on the host
  return Status::OK();
}

void SequentialModel::EnsureCapacity(int64_t rows, int tasks) {
  if (rows <= capacity_ && tasks <= capacity_tasks_) return;
  capacity_ = std::max(rows, capacity_);
  capacity_tasks_ = std::max(tasks, capacity_tasks_);
  for (auto& l : layers_) l->Reserve(capacity_, capacity_tasks_);
  if (nchw_to_nhwc_) input_.Ensure(be_, capacity_ * input_size_);
  if (!be_->host_memory()) {
    for (int s = 0; s < 2; ++s) {
      input_raw_[s].Ensure(be_, capacity_ * input_size_);
      labels_[s].Ensure(be_, capacity_);
    }
  }
  loss_parts_.assign(capacity_tasks_, 0.0);
  correct_parts_.assign(capacity_tasks_, 0);
}

const float* SequentialModel::StageInput(int64_t b, int64_t e, const float* x) {
  const float* src = x;
  if (!be_->host_memory()) {
    float* dst = input_raw_[slot_].data();
    be_->StageIn(dst + b * input_size_, x + b * input_size_,
                 static_cast<int64_t>(sizeof(float)) * (e - b) * input_size_, slot_);
    src = dst;
  }
  if (!nchw_to_nhwc_) return src;
  be_->NchwToNhwc(e - b, in_c_, in_h_, in_w_, src + b * input_size_,
                  input_.data() + b * input_size_);
  return input_.data();
}

const int32_t* SequentialModel::StageLabels(int64_t b, int64_t e, const int32_t* y) {
  if (be_->host_memory()) return y;
  int32_t* dst = labels_[slot_].data();
  be_->StageIn(dst + b, y + b, static_cast<int64_t>(sizeof(int32_t)) * (e - b), slot_);
  return dst;
}

const float* SequentialModel::ForwardRows(const detail::StepContext& c, int t, int64_t b,
                                          int64_t e, const float* x) {
  const float* in = StageInput(b, e, x);
  const float* h = in;
  for (size_t l = 0; l < layers_.size(); ++l) {
    layers_[l]->Forward(c, t, b, e, h, seeds_[l]);
    h = layers_[l]->output();
  }
  return in;
}

double SequentialModel::ForwardBackward(const float* x, const int32_t* y, int64_t n,
                                        int64_t global_n, Rng* dropout_rng,
                                        const std::function<void(int layer)>& on_layer_ready) {
  const int tasks = Tasks();
  EnsureCapacity(n, tasks);
  // One draw per dropout layer per step, on this thread, whatever n is: the
  // stream advances identically on every rank and for empty batches.
  for (size_t l = 0; l < layers_.size(); ++l) {
    seeds_[l] = (dropout_[l] > 0.0f && dropout_rng != nullptr) ? dropout_rng->NextU64() : 0;
  }
  detail::StepContext ctx;
  ctx.be = be_;
  ctx.pool = tasks > 1 ? &kernels::CpuPool() : nullptr;
  ctx.tasks = tasks;
  ctx.n = n;
  ctx.train = true;
  const float scale = global_n > 0 ? 1.0f / static_cast<float>(global_n) : 0.0f;
  const int64_t classes = num_classes_;
  RunTasks(
      [&](int t) {
        int64_t b, e;
        kernels::ShardRange(n, tasks, t, &b, &e);
        const float* in = ForwardRows(ctx, t, b, e, x);
        Layer* last = layers_.back().get();
        const int32_t* labels = StageLabels(b, e, y);
        loss_parts_[t] = be_->SoftmaxCrossEntropy(e - b, classes, last->output() + b * classes,
                                                  labels + b, scale,
                                                  last->grad_output() + b * classes, nullptr);
        for (int l = static_cast<int>(layers_.size()) - 1; l >= 0; --l) {
          const float* lx = l == 0 ? in : layers_[l - 1]->output();
          float* dx = l == 0 ? nullptr : layers_[l - 1]->grad_output();
          layers_[l]->Backward(ctx, t, b, e, lx, dx, seeds_[l], [&on_layer_ready, l] {
            if (on_layer_ready) on_layer_ready(l);
          });
        }
      },
      tasks);
  FinishSlot();
  last_n_ = n;
  double loss = 0.0;
  for (int t = 0; t < tasks; ++t) loss += loss_parts_[t];
  return loss;
}

void SequentialModel::Evaluate(const float* x, const int32_t* y, int64_t n, double* loss_sum,
                               int64_t* correct) {
  const int tasks = Tasks();
  // Evaluate in chunks so a large evaluation batch does not grow the buffers
  // beyond max(training batch, 1024) rows.
  const int64_t chunk = std::max<int64_t>(capacity_, 1024);
  const int64_t classes = num_classes_;
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t m = std::min(chunk, n - start);
    EnsureCapacity(m, tasks);
    detail::StepContext ctx;
    ctx.be = be_;
    ctx.pool = tasks > 1 ? &kernels::CpuPool() : nullptr;
    ctx.tasks = tasks;
    ctx.n = m;
    ctx.train = false;
    const float* xs = x + start * input_size_;
    const int32_t* ys = y + start;
    RunTasks(
        [&](int t) {
          int64_t b, e;
          kernels::ShardRange(m, tasks, t, &b, &e);
          ForwardRows(ctx, t, b, e, xs);
          const int32_t* labels = StageLabels(b, e, ys);
          correct_parts_[t] = 0;
          loss_parts_[t] = be_->SoftmaxCrossEntropy(
              e - b, classes, layers_.back()->output() + b * classes, labels + b, 1.0f, nullptr,
              &correct_parts_[t]);
        },
        tasks);
    FinishSlot();
    last_n_ = m;
    for (int t = 0; t < tasks; ++t) {
      *loss_sum += loss_parts_[t];
      *correct += correct_parts_[t];
    }
  }
}

std::string SequentialModel::DiagnoseNonFinite() {
  auto bad = [&](const float* p, int64_t count) {
    if (p == nullptr || count <= 0) return false;
    return be_->FirstNonFinite(count, p) >= 0;
  };
  for (auto& l : layers_) {
    for (const auto& r : l->params()) {
      const float* v = be_->host_memory() ? r.param->value.data() : r.value;
      if (bad(v, r.param->size())) {
        return "parameter '" + r.param->name + "' (layer " + std::to_string(l->index()) + ")";
      }
    }
  }
  for (auto& l : layers_) {
    if (bad(l->output(), last_n_ * l->out_size())) {
      return "output of layer " + std::to_string(l->index()) + " '" + l->name() +
             "' in the forward pass";
    }
  }
  for (int i = static_cast<int>(layers_.size()) - 1; i >= 0; --i) {
    for (const auto& r : layers_[i]->params()) {
      const float* g = be_->host_memory() ? r.param->grad.data() : r.grad;
      if (bad(g, r.param->size())) {
        return "gradient of '" + r.param->name + "' (layer " + std::to_string(i) + ")";
      }
    }
  }
  return "";
}

}  // namespace

Result<std::unique_ptr<Model>> Model::Create(const ModelSpec& spec,
                                             const std::vector<int64_t>& input_shape,
                                             int num_classes, uint64_t seed) {
  auto model = std::make_unique<SequentialModel>(&kernels::CpuBackend());
  HPCAI_RETURN_IF_ERROR(model->Build(spec, input_shape, num_classes, seed));
  return std::unique_ptr<Model>(std::move(model));
}

Result<std::unique_ptr<Model>> Model::Create(const ModelSpec& spec,
                                             const std::vector<int64_t>& input_shape,
                                             int num_classes, uint64_t seed,
                                             const ModelOptions& options) {
  if (options.backend == "cpu") return Create(spec, input_shape, num_classes, seed);
  kernels::BackendOptions bo;
  bo.kind = options.backend;
  bo.device = options.device;
  bo.allow_tf32 = options.allow_tf32;
  HPCAI_ASSIGN_OR_RETURN(std::unique_ptr<Backend> be, kernels::CreateBackend(bo));
  auto model = std::make_unique<SequentialModel>(std::move(be));
  HPCAI_RETURN_IF_ERROR(model->Build(spec, input_shape, num_classes, seed));
  return std::unique_ptr<Model>(std::move(model));
}

std::string Model::DiagnoseNonFinite() {
  std::string g = FirstNonFiniteGrad(params());
  return g.empty() ? g : "gradient of " + g;
}

std::string FirstNonFiniteGrad(const std::vector<Param*>& params) {
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const Param* p = *it;
    if (kernels::cpu::FirstNonFinite(p->size(), p->grad.data()) >= 0) {
      return "'" + p->name + "' (layer " + std::to_string(p->layer) + ")";
    }
  }
  return "";
}

}  // namespace hpcai::runtime
