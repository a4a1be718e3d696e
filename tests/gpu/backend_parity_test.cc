// Every CUDA op vs the CPU reference on the same inputs (label "gpu").
// Tolerances: GEMM |err| <= 1e-5 * k (fp32; cuBLAS may sum in another order),
// TF32 <= 5e-3 * k; elementwise transcendental ops <= 2e-6 relative (device
// expf/tanhf are within 2 ulp of glibc's); copies, gathers and max-pool are
// bit-exact; reductions <= 1e-6 relative (the device contracts to FMA).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hpcai/base/rng.h"
#include "hpcai/kernels/cpu.h"
#include "gpu/gpu_util.h"

namespace hpcai::kernels {
namespace {

using gputest::DeviceVector;

std::vector<float> Random(int64_t n, uint64_t seed, float scale = 1.0f) {
  Rng r(seed);
  std::vector<float> v(n);
  for (float& x : v) x = scale * (2.0f * r.Uniform() - 1.0f);
  return v;
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, double abs,
                double rel, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], abs + rel * std::abs(want[i])) << what << " element " << i;
  }
}

class GpuParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HPCAI_REQUIRE_GPU();
    be_ = gputest::MakeCuda();
    ASSERT_NE(be_, nullptr);
  }
  Backend& cpu_ = CpuBackend();
  std::unique_ptr<Backend> be_;
};

TEST_F(GpuParityTest, GemmAllTransposesWithLeadingDimensions) {
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const int64_t m = 67, n = 45, k = 129;
      const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
      auto a = Random((ta ? k : m) * lda, 1), b = Random((tb ? n : k) * ldb, 2),
           c = Random(m * ldc, 3);
      auto want = c;
      cpu_.Gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f, want.data(), ldc);
      DeviceVector<float> da(be_.get(), a), db(be_.get(), b), dc(be_.get(), c);
      be_->Gemm(ta, tb, m, n, k, 0.5f, da.get(), lda, db.get(), ldb, 0.25f, dc.get(), ldc);
      ExpectNear(dc.ToHost(), want, 1e-5 * k, 0, "gemm");
    }
  }
}

TEST_F(GpuParityTest, Tf32GemmIsCloseToFp32) {
  auto tf32 = gputest::MakeCuda(/*tf32=*/true);
  const int64_t m = 64, n = 64, k = 256;
  auto a = Random(m * k, 4), b = Random(k * n, 5);
  std::vector<float> want(m * n);
  cpu_.Gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, want.data(), n);
  DeviceVector<float> da(tf32.get(), a), db(tf32.get(), b), dc(tf32.get(), m * n);
  tf32->Gemm(false, false, m, n, k, 1.0f, da.get(), k, db.get(), n, 0.0f, dc.get(), n);
  ExpectNear(dc.ToHost(), want, 5e-3 * k, 0, "tf32 gemm");
}

TEST_F(GpuParityTest, BiasActivationForwardBackwardAndBiasGrad) {
  const int64_t n = 37, d = 70, offset = 11;
  for (Activation act : {Activation::kIdentity, Activation::kRelu, Activation::kGelu,
                         Activation::kTanh}) {
    for (bool drop : {false, true}) {
      DropoutParams dp{77, DropoutThreshold(0.7f), 1.0f / 0.7f};
      const DropoutParams* dptr = drop ? &dp : nullptr;
      auto z0 = Random(n * d, 6, 3.0f), bias = Random(d, 7), dy = Random(n * d, 8);
      auto z = z0;
      std::vector<float> y(n * d);
      cpu_.BiasActivationForward(act, n, d, bias.data(), z.data(), y.data(), dptr, offset);
      DeviceVector<float> gz(be_.get(), z0), gb(be_.get(), bias), gy(be_.get(), n * d);
      be_->BiasActivationForward(act, n, d, gb.get(), gz.get(), gy.get(), dptr, offset);
      ExpectNear(gz.ToHost(), z, 0, 0, "z + bias");
      ExpectNear(gy.ToHost(), y, 1e-6, 2e-6, "activation");

      std::vector<float> dz(n * d), dbias(d);
      cpu_.BiasActivationBackward(act, n, d, z.data(), true, dy.data(), dptr, offset, dz.data(),
                                  dbias.data(), false);
      DeviceVector<float> gdy(be_.get(), dy), gdz(be_.get(), n * d), gdb(be_.get(), d);
      be_->BiasActivationBackward(act, n, d, gz.get(), true, gdy.get(), dptr, offset, gdz.get(),
                                  gdb.get(), false);
      ExpectNear(gdz.ToHost(), dz, 1e-6, 2e-6, "activation backward");
      ExpectNear(gdb.ToHost(), dbias, 1e-5, 1e-6, "bias grad");
    }
  }
  // Column slice with a leading dimension, accumulating.
  auto g = Random(300 * 9, 9);
  std::vector<float> db(4, 1.0f);
  cpu_.BiasGrad(300, 4, 9, g.data() + 2, db.data(), true);
  DeviceVector<float> gg(be_.get(), g), gdb(be_.get(), std::vector<float>(4, 1.0f));
  be_->BiasGrad(300, 4, 9, gg.get() + 2, gdb.get(), true);
  ExpectNear(gdb.ToHost(), db, 1e-5, 1e-6, "bias grad slice");
}

TEST_F(GpuParityTest, SoftmaxCrossEntropy) {
  const int64_t n = 300, c = 10;
  auto x = Random(n * c, 10, 20.0f);
  x[5] = 3e38f;  // stability: a huge logit
  std::vector<int32_t> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int32_t>((i * 7) % c);
  std::vector<float> dx(n * c);
  int64_t correct = 0, gcorrect = 0;
  const double loss = cpu_.SoftmaxCrossEntropy(n, c, x.data(), y.data(), 1.0f / 512, dx.data(), &correct);
  DeviceVector<float> gx(be_.get(), x), gdx(be_.get(), n * c);
  DeviceVector<int32_t> gy(be_.get(), y);
  const double gloss = be_->SoftmaxCrossEntropy(n, c, gx.get(), gy.get(), 1.0f / 512, gdx.get(), &gcorrect);
  EXPECT_NEAR(gloss, loss, 1e-6 * std::abs(loss));
  EXPECT_EQ(gcorrect, correct);
  ExpectNear(gdx.ToHost(), dx, 1e-8, 1e-5, "dlogits");
}

TEST_F(GpuParityTest, ConvHelpersAndPoolingAreBitExact) {
  ConvGeometry g{9, 7, 3, 3, 2, 1};
  const int64_t n = 4, rows = n * g.out_h() * g.out_w();
  auto x = Random(n * 9 * 7 * 3, 11);
  std::vector<float> col(rows * g.patch());
  cpu_.Im2colNhwc(g, n, x.data(), col.data());
  DeviceVector<float> gx(be_.get(), x), gcol(be_.get(), col.size());
  be_->Im2colNhwc(g, n, gx.get(), gcol.get());
  ExpectNear(gcol.ToHost(), col, 0, 0, "im2col");
  auto dcol = Random(col.size(), 12);
  std::vector<float> dx(x.size());
  cpu_.Col2imNhwc(g, n, dcol.data(), dx.data());
  DeviceVector<float> gdcol(be_.get(), dcol), gdx(be_.get(), x.size());
  be_->Col2imNhwc(g, n, gdcol.get(), gdx.get());
  ExpectNear(gdx.ToHost(), dx, 0, 0, "col2im");

  PoolGeometry p{7, 5, 3, 2};
  const int64_t out = n * p.out_h() * p.out_w() * p.c;
  auto px = Random(n * 7 * 5 * 3, 13);
  std::vector<float> py(out);
  std::vector<int32_t> arg(out);
  cpu_.MaxPoolForward(p, n, px.data(), py.data(), arg.data());
  DeviceVector<float> gpx(be_.get(), px), gpy(be_.get(), out);
  DeviceVector<int32_t> garg(be_.get(), std::vector<int32_t>(out));
  be_->MaxPoolForward(p, n, gpx.get(), gpy.get(), garg.get());
  ExpectNear(gpy.ToHost(), py, 0, 0, "maxpool");
  auto pdy = Random(out, 14);
  std::vector<float> pdx(px.size());
  cpu_.MaxPoolBackward(p, n, pdy.data(), arg.data(), pdx.data());
  DeviceVector<float> gpdy(be_.get(), pdy), gpdx(be_.get(), px.size());
  be_->MaxPoolBackward(p, n, gpdy.get(), garg.get(), gpdx.get());
  ExpectNear(gpdx.ToHost(), pdx, 0, 0, "maxpool backward");

  auto nchw = Random(2 * 3 * 4 * 5, 15);
  std::vector<float> nhwc(nchw.size());
  cpu_.NchwToNhwc(2, 3, 4, 5, nchw.data(), nhwc.data());
  DeviceVector<float> gin(be_.get(), nchw), gout(be_.get(), nchw.size());
  be_->NchwToNhwc(2, 3, 4, 5, gin.get(), gout.get());
  ExpectNear(gout.ToHost(), nhwc, 0, 0, "layout");
}

TEST_F(GpuParityTest, ReductionsAndOptimizerUpdates) {
  auto x = Random(100003, 16);
  DeviceVector<float> gx(be_.get(), x);
  EXPECT_NEAR(be_->SumSquares(100003, gx.get()), cpu_.SumSquares(100003, x.data()), 1e-6 * 33000);
  EXPECT_EQ(be_->FirstNonFinite(100003, gx.get()), -1);
  x[777] = std::numeric_limits<float>::quiet_NaN();
  x[99999] = std::numeric_limits<float>::infinity();
  DeviceVector<float> gbad(be_.get(), x);
  EXPECT_EQ(be_->FirstNonFinite(100003, gbad.get()), 777);

  const int64_t n = 5000;
  auto g = Random(n, 17), p = Random(n, 18), v = Random(n, 19), m = Random(n, 20);
  for (auto& e : v) e = std::abs(e);
  SgdParams sh{0.1f, 0.9f, 0.01f, 0.5f, true};
  auto p1 = p, v1 = v;
  cpu_.SgdStep(n, sh, g.data(), p1.data(), v1.data());
  DeviceVector<float> gg(be_.get(), g), gp(be_.get(), p), gv(be_.get(), v), gm(be_.get(), m);
  be_->SgdStep(n, sh, gg.get(), gp.get(), gv.get());
  ExpectNear(gp.ToHost(), p1, 1e-7, 1e-6, "sgd p");
  ExpectNear(gv.ToHost(), v1, 1e-7, 1e-6, "sgd v");

  AdamParams ah;
  ah.lr = 1e-3f;
  ah.step_size = 1e-2f;
  ah.inv_sqrt_bc2 = 30.0f;
  ah.decoupled = 0.01f;
  auto p2 = p, m2 = m, v2 = v;
  cpu_.AdamStep(n, ah, g.data(), p2.data(), m2.data(), v2.data());
  DeviceVector<float> gp2(be_.get(), p), gm2(be_.get(), m), gv2(be_.get(), v);
  be_->AdamStep(n, ah, gg.get(), gp2.get(), gm2.get(), gv2.get());
  ExpectNear(gp2.ToHost(), p2, 1e-6, 1e-5, "adam p");
  ExpectNear(gm2.ToHost(), m2, 1e-7, 1e-6, "adam m");
}

TEST_F(GpuParityTest, StagedCopiesAreOrderedBeforeLaterOps) {
  std::vector<float> host(100000);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i);
  DeviceVector<float> a(be_.get(), host.size()), b(be_.get(), host.size());
  for (int step = 0; step < 6; ++step) {
    DeviceVector<float>& dst = step % 2 == 0 ? a : b;
    be_->StageIn(dst.get(), host.data(), static_cast<int64_t>(host.size() * sizeof(float)), step % 2);
    for (float& h : host) h += 1.0f;  // the host buffer may change right after StageIn
    be_->AddInto(static_cast<int64_t>(host.size()), dst.get(), dst.get());  // doubles it
    be_->ReleaseSlot(step % 2);
    auto got = dst.ToHost();
    ASSERT_EQ(got[10], 2.0f * (10 + step)) << "step " << step;
  }
}

}  // namespace
}  // namespace hpcai::kernels
