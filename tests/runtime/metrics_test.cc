#include "hpcai/runtime/metrics.h"

#include <gtest/gtest.h>

namespace hpcai::runtime {
namespace {

TEST(Metrics, StepJsonHasEveryField) {
  StepMetrics m;
  m.step = 50;
  m.total_steps = 2350;
  m.epoch = 1;
  m.epochs = 10;
  m.loss = 0.5;
  m.lr = 0.05;
  m.grad_norm = 1.25;
  m.samples_per_sec = 12345;
  m.data_s = 0.001;
  m.compute_s = 0.02;
  m.comm_s = 0.002;
  Json j = StepMetricsJson(m, 1700000000.5);
  auto parsed = Json::Parse(j.dump());
  ASSERT_TRUE(parsed.ok());
  for (const char* k : {"type", "step", "epoch", "loss", "lr", "grad_norm", "samples_per_sec", "data_s",
                        "compute_s", "comm_s", "skipped", "time_ms"}) {
    EXPECT_TRUE(parsed->has(k)) << k;
  }
  EXPECT_EQ(parsed->get("type").as_string(), "train");
  EXPECT_EQ(parsed->get("step").as_int(), 50);
  EXPECT_DOUBLE_EQ(parsed->get("loss").as_double(), 0.5);
  EXPECT_EQ(j.dump().find('\n'), std::string::npos);  // one JSONL line
}

TEST(Metrics, EvalJson) {
  EvalMetrics m;
  m.step = 235;
  m.epoch = 1;
  m.val_loss = 0.41;
  m.val_acc = 0.8561;
  m.samples = 10000;
  Json j = EvalMetricsJson(m, 1.0);
  EXPECT_EQ(j.get("type").as_string(), "eval");
  EXPECT_DOUBLE_EQ(j.get("val_acc").as_double(), 0.8561);
  EXPECT_EQ(j.get("samples").as_int(), 10000);
  EXPECT_NE(EvalLine(m).find("val_acc 0.8561"), std::string::npos);
}

TEST(Metrics, ProgressLine) {
  StepMetrics m;
  m.step = 50;
  m.total_steps = 2350;
  m.epoch = 1;
  m.epochs = 10;
  m.loss = 0.54321;
  m.lr = 0.05;
  m.samples_per_sec = 12345;
  m.data_s = 0.01;
  m.compute_s = 0.08;
  m.comm_s = 0.01;
  std::string line = ProgressLine(m, 130);
  EXPECT_NE(line.find("step   50/2350"), std::string::npos) << line;
  EXPECT_NE(line.find("ep 1/10"), std::string::npos) << line;
  EXPECT_NE(line.find("loss 0.5432"), std::string::npos) << line;
  EXPECT_NE(line.find("12.3k samples/s"), std::string::npos) << line;
  EXPECT_NE(line.find("data 10% comm 10%"), std::string::npos) << line;
  EXPECT_NE(line.find("eta 2m10s"), std::string::npos) << line;
  EXPECT_EQ(line.find("skipped"), std::string::npos);
  m.skipped = 2;
  EXPECT_NE(ProgressLine(m, 1).find("skipped 2"), std::string::npos);
}

TEST(Metrics, Formats) {
  EXPECT_EQ(FormatDuration(59), "59s");
  EXPECT_EQ(FormatDuration(130), "2m10s");
  EXPECT_EQ(FormatDuration(7322), "2h02m");
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatRate(950), "950");
  EXPECT_EQ(FormatRate(12345), "12.3k");
  EXPECT_EQ(FormatRate(2.5e6), "2.50M");
}

}  // namespace
}  // namespace hpcai::runtime
