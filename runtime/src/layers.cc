// Dense and convolution layers over the Backend interface.
#include "layers.h"

#include <cstdio>
#include <cstdlib>

namespace hpcai::runtime::detail {
namespace {

[[noreturn]] void OutOfMemory(const std::string& backend, int64_t bytes) {
  // No Status channel inside a training step; running out of memory for
  // activations is not recoverable, so say what failed and stop.
  std::fprintf(stderr,
               "hpcai: error: could not allocate %lld bytes of %s memory for activations "
               "(hint: lower training.global_batch or use more ranks)\n",
               static_cast<long long>(bytes), backend.c_str());
  std::abort();
}

const char* ActName(Activation a) {
  switch (a) {
    case Activation::kIdentity: return "linear";
    case Activation::kRelu: return "relu";
    case Activation::kGelu: return "gelu";
    case Activation::kTanh: return "tanh";
  }
  return "?";
}

ParamRef Ref(Backend* be, Param* p) {
  // CPU: the kernels work on Param's own vectors (no copies, no sync).
  // Device backends: Param::device_value/device_grad (allocated by model.cc).
  ParamRef r;
  r.param = p;
  if (be->host_memory()) {
    r.value = p->value.data();
    r.grad = p->grad.data();
  } else {
    r.value = p->device_value;
    r.grad = p->device_grad;
  }
  return r;
}

// ---- dense ------------------------------------------------------------------------
// y = dropout(act(x w^T + b)); w: (out, in), b: (out).
class Dense final : public Layer {
 public:
  Dense(const DenseConfig& cfg, Backend* be, Param* w, Param* b) : cfg_(cfg), be_(be) {
    name_ = cfg.name;
    index_ = cfg.index;
    in_size_ = cfg.in;
    out_size_ = cfg.out;
    params_ = {Ref(be, w), Ref(be, b)};
    // Backward needs z when the activation's derivative reads z (gelu) or
    // when dropout overwrites y; otherwise y (computed in place) suffices.
    keep_z_ = kernels::ActivationNeedsZ(cfg.act) || cfg.dropout > 0.0f;
  }

  std::string Describe() const override {
    std::string s = "dense " + std::to_string(cfg_.in) + "->" + std::to_string(cfg_.out) + " " +
                    ActName(cfg_.act);
    if (cfg_.dropout > 0) s += " dropout " + std::to_string(cfg_.dropout).substr(0, 4);
    return s;
  }

  void Reserve(int64_t rows, int /*tasks*/) override {
    y_.Ensure(be_, rows * cfg_.out);
    dy_.Ensure(be_, rows * cfg_.out);
    if (keep_z_) z_.Ensure(be_, rows * cfg_.out);
  }

  void Forward(const StepContext& c, int /*task*/, int64_t b, int64_t e, const float* x,
               uint64_t seed) override {
    const int64_t rows = e - b, in = cfg_.in, out = cfg_.out;
    if (rows <= 0) return;
    float* y = y_.data() + b * out;
    float* z = keep_z_ ? z_.data() + b * out : y;
    // z(rows,out) = x(rows,in) * w(out,in)^T
    c.be->Gemm(false, true, rows, out, in, 1.0f, x + b * in, in, params_[0].value, in, 0.0f, z,
               out);
    const bool drop = c.train && cfg_.dropout > 0.0f;
    kernels::DropoutParams dp = MakeDropout(cfg_.dropout, seed);
    c.be->BiasActivationForward(cfg_.act, rows, out, params_[1].value, z, y, drop ? &dp : nullptr,
                                b);
  }

  void Backward(const StepContext& c, int task, int64_t b, int64_t e, const float* x, float* dx,
                uint64_t seed, const std::function<void()>& ready) override {
    const int64_t rows = e - b, in = cfg_.in, out = cfg_.out;
    float* dz = dy_.data();
    // 1. dz = act'(.) * dropout(dy) on this task's rows, in place.
    if (rows > 0 && (cfg_.act != Activation::kIdentity || cfg_.dropout > 0.0f)) {
      const bool drop = cfg_.dropout > 0.0f;
      kernels::DropoutParams dp = MakeDropout(cfg_.dropout, seed);
      const float* saved = keep_z_ ? z_.data() : y_.data();
      c.be->BiasActivationBackward(cfg_.act, rows, out, saved + b * out, keep_z_, dz + b * out,
                                   drop ? &dp : nullptr, b, dz + b * out, nullptr, false);
    }
    c.Barrier();  // dz complete for all rows
    // 2. Parameter gradients over the whole batch, split by output units:
    //    task t computes rows [o0, o1) of dw and db as one GEMM over all n
    //    rows, so no per-task partial sums need reducing afterwards.
    int64_t o0, o1;
    kernels::ShardRange(out, c.tasks, task, &o0, &o1);
    if (o1 > o0) {
      // dw[o0:o1](o1-o0, in) = dz[:, o0:o1]^T (n rows) * x(n, in)
      c.be->Gemm(true, false, o1 - o0, in, c.n, 1.0f, dz + o0, out, x, in, 0.0f,
                 params_[0].grad + o0 * in, in);
      c.be->BiasGrad(c.n, o1 - o0, out, dz + o0, params_[1].grad + o0, false);
    }
    c.Barrier();  // all of dw, db written
    if (task == 0 && ready) ready();
    // 3. dx rows = dz rows (rows, out) * w (out, in).
    if (dx != nullptr && rows > 0) {
      c.be->Gemm(false, false, rows, in, out, 1.0f, dz + b * out, out, params_[0].value, in, 0.0f,
                 dx + b * in, in);
    }
  }

  const float* output() const override { return y_.data(); }
  float* grad_output() override { return dy_.data(); }

 private:
  DenseConfig cfg_;
  Backend* be_;
  bool keep_z_ = false;
  Buffer y_, z_, dy_;
};

// ---- convolution (+ bias + activation + optional max-pool), NHWC -------------------
// a = act(conv(x, w) + b): (n, oh, ow, f); y = maxpool(a) or a.
// w: (f, k, k, c) so that the im2col row (kh, kw, c) times w^T is the conv.
class Conv final : public Layer {
 public:
  Conv(const ConvConfig& cfg, Backend* be, Param* w, Param* b) : cfg_(cfg), be_(be) {
    name_ = cfg.name;
    index_ = cfg.index;
    geo_ = kernels::ConvGeometry{cfg.in_h, cfg.in_w, cfg.in_c, cfg.kernel, cfg.stride,
                                      cfg.padding};
    pool_ = kernels::PoolGeometry{geo_.out_h(), geo_.out_w(), cfg.filters, cfg.pool};
    in_size_ = cfg.in_h * cfg.in_w * cfg.in_c;
    pix_ = geo_.out_h() * geo_.out_w();
    out_size_ = pooled() ? pool_.out_h() * pool_.out_w() * cfg.filters : pix_ * cfg.filters;
    params_ = {Ref(be, w), Ref(be, b)};
    keep_z_ = kernels::ActivationNeedsZ(cfg.act);
    // CPU: cache-sized chunks.  Device: big GEMMs matter more than cache, so
    // (up to 2^18 rows, 256 Fashion-MNIST samples in one go) the whole batch.
    chunk_ = (be->host_memory() ? cfg.chunk_rows : int64_t{1} << 18) / pix_;
    if (chunk_ < 1) chunk_ = 1;
  }

  std::string Describe() const override {
    std::string s = "conv " + std::to_string(cfg_.in_h) + "x" + std::to_string(cfg_.in_w) + "x" +
                    std::to_string(cfg_.in_c) + " -> " + std::to_string(cfg_.filters) + " k" +
                    std::to_string(cfg_.kernel) + " s" + std::to_string(cfg_.stride) + " p" +
                    std::to_string(cfg_.padding) + " " + ActName(cfg_.act);
    if (pooled()) s += " maxpool" + std::to_string(cfg_.pool);
    return s;
  }

  void Reserve(int64_t rows, int tasks) override {
    const int64_t f = cfg_.filters, patch = geo_.patch();
    a_.Ensure(be_, rows * pix_ * f);
    if (keep_z_) z_.Ensure(be_, rows * pix_ * f);
    if (pooled()) {
      y_.Ensure(be_, rows * out_size_);
      arg_.Ensure(be_, rows * out_size_);
      da_.Ensure(be_, rows * pix_ * f);
    }
    dy_.Ensure(be_, rows * out_size_);
    col_.Ensure(be_, static_cast<int64_t>(tasks) * chunk_ * pix_ * patch);
    partial_.Ensure(be_, static_cast<int64_t>(tasks) * (f * patch + f));
  }

  void Forward(const StepContext& c, int task, int64_t b, int64_t e, const float* x,
               uint64_t /*seed*/) override {
    const int64_t f = cfg_.filters, patch = geo_.patch();
    float* col = col_.data() + static_cast<int64_t>(task) * chunk_ * pix_ * patch;
    for (int64_t s0 = b; s0 < e; s0 += chunk_) {
      const int64_t s1 = s0 + chunk_ < e ? s0 + chunk_ : e, ns = s1 - s0, rows = ns * pix_;
      c.be->Im2colNhwc(geo_, ns, x + s0 * in_size_, col);
      float* a = a_.data() + s0 * pix_ * f;
      float* z = keep_z_ ? z_.data() + s0 * pix_ * f : a;
      // z(rows, f) = col(rows, patch) * w(f, patch)^T
      c.be->Gemm(false, true, rows, f, patch, 1.0f, col, patch, params_[0].value, patch, 0.0f, z,
                 f);
      c.be->BiasActivationForward(cfg_.act, rows, f, params_[1].value, z, a, nullptr, 0);
      if (pooled()) {
        c.be->MaxPoolForward(pool_, ns, a, y_.data() + s0 * out_size_,
                             arg_.data() + s0 * out_size_);
      }
    }
  }

  void Backward(const StepContext& c, int task, int64_t b, int64_t e, const float* x, float* dx,
                uint64_t /*seed*/, const std::function<void()>& ready) override {
    const int64_t f = cfg_.filters, patch = geo_.patch(), wsize = f * patch;
    float* col = col_.data() + static_cast<int64_t>(task) * chunk_ * pix_ * patch;
    float* pw = partial_.data() + static_cast<int64_t>(task) * (wsize + f);
    float* pb = pw + wsize;
    // dz lives in da_ (pooled) or in dy_ (not pooled), for the whole batch.
    float* dz_all = pooled() ? da_.data() : dy_.data();
    bool first = true;
    for (int64_t s0 = b; s0 < e; s0 += chunk_) {
      const int64_t s1 = s0 + chunk_ < e ? s0 + chunk_ : e, ns = s1 - s0, rows = ns * pix_;
      float* dz = dz_all + s0 * pix_ * f;
      if (pooled()) {
        c.be->MaxPoolBackward(pool_, ns, dy_.data() + s0 * out_size_, arg_.data() + s0 * out_size_,
                              dz);
      }
      const float* saved = (keep_z_ ? z_.data() : a_.data()) + s0 * pix_ * f;
      // dz = act'(.) * da in place; bias grad partial of this task.
      c.be->BiasActivationBackward(cfg_.act, rows, f, saved, keep_z_, dz, nullptr, 0, dz, pb,
                                   !first);
      c.be->Im2colNhwc(geo_, ns, x + s0 * in_size_, col);
      // pw(f, patch) (+)= dz(rows, f)^T * col(rows, patch)
      c.be->Gemm(true, false, f, patch, rows, 1.0f, dz, f, col, patch, first ? 0.0f : 1.0f, pw,
                 patch);
      first = false;
    }
    if (first) {  // no rows on this task: its partial is zero
      c.be->Zero(pw, wsize + f);
    }
    c.Barrier();  // every task's partial is complete
    // Sum the partials in task order; task t sums a slice of the elements.
    int64_t g0, g1;
    kernels::ShardRange(wsize + f, c.tasks, task, &g0, &g1);
    for (int64_t i = g0; i < g1;) {
      // The weight and bias grads are separate tensors: split the slice at the boundary.
      const bool in_w = i < wsize;
      const int64_t end = in_w ? (g1 < wsize ? g1 : wsize) : g1;
      float* dst = in_w ? params_[0].grad + i : params_[1].grad + (i - wsize);
      // dst = partial_0 + partial_1 + ... (in task order)
      c.be->Zero(dst, end - i);
      c.be->AddInto(end - i, partial_.data() + i, dst);
      for (int t = 1; t < c.tasks; ++t) {
        c.be->AddInto(end - i, partial_.data() + static_cast<int64_t>(t) * (wsize + f) + i, dst);
      }
      i = end;
    }
    c.Barrier();
    if (task == 0 && ready) ready();
    if (dx == nullptr) return;
    for (int64_t s0 = b; s0 < e; s0 += chunk_) {
      const int64_t s1 = s0 + chunk_ < e ? s0 + chunk_ : e, ns = s1 - s0, rows = ns * pix_;
      // dcol(rows, patch) = dz(rows, f) * w(f, patch); dx = col2im(dcol)
      c.be->Gemm(false, false, rows, patch, f, 1.0f, dz_all + s0 * pix_ * f, f, params_[0].value,
                 patch, 0.0f, col, patch);
      c.be->Col2imNhwc(geo_, ns, col, dx + s0 * in_size_);
    }
  }

  const float* output() const override { return pooled() ? y_.data() : a_.data(); }
  float* grad_output() override { return dy_.data(); }

 private:
  bool pooled() const { return cfg_.pool > 1; }

  ConvConfig cfg_;
  Backend* be_;
  kernels::ConvGeometry geo_;
  kernels::PoolGeometry pool_;
  int64_t pix_ = 0;    // output pixels per sample before pooling
  int64_t chunk_ = 1;  // samples per im2col chunk
  bool keep_z_ = false;
  Buffer a_, z_, y_, da_, dy_, col_, partial_;
  IntBuffer arg_;
};

}  // namespace

void Buffer::Ensure(Backend* be, int64_t count) {
  if (count <= size_ && be == be_) return;
  Release();
  be_ = be;
  data_ = be->AllocFloats(count > 0 ? count : 1);
  if (data_ == nullptr) OutOfMemory(be->name(), count * 4);
  size_ = count;
}
void Buffer::Release() {
  if (data_ != nullptr) be_->Free(data_);
  data_ = nullptr;
  size_ = 0;
}
void IntBuffer::Ensure(Backend* be, int64_t count) {
  if (count <= size_ && be == be_) return;
  Release();
  be_ = be;
  data_ = be->AllocInts(count > 0 ? count : 1);
  if (data_ == nullptr) OutOfMemory(be->name(), count * 4);
  size_ = count;
}
void IntBuffer::Release() {
  if (data_ != nullptr) be_->Free(data_);
  data_ = nullptr;
  size_ = 0;
}

kernels::DropoutParams MakeDropout(float p, uint64_t seed) {
  kernels::DropoutParams d;
  d.seed = seed;
  d.threshold = kernels::DropoutThreshold(1.0f - p);
  d.scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  return d;
}

std::unique_ptr<Layer> MakeDense(const DenseConfig& cfg, Backend* be, Param* weight, Param* bias) {
  return std::make_unique<Dense>(cfg, be, weight, bias);
}

std::unique_ptr<Layer> MakeConv(const ConvConfig& cfg, Backend* be, Param* weight, Param* bias) {
  return std::make_unique<Conv>(cfg, be, weight, bias);
}

}  // namespace hpcai::runtime::detail
