#include "hpcai/runtime/train_state.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace hpcai::runtime {
namespace {

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(TrainState, RoundTripIsBitExactThroughJsonText) {
  TrainState s;
  s.step = 1234;
  s.epoch = 3;
  s.cursor = 17;
  s.window_steps = 7;
  s.window_loss_steps = 6;
  s.window_loss = 0.1 + 0.2 + 1e-17;  // not representable in 9 digits
  s.window_samples = 7 * 256;
  s.skipped = 1;
  s.last_norm = std::nextafter(1.0, 2.0);
  s.last_loss = -1;
  s.last_val_loss = 0.30000000000000004;
  s.last_val_acc = 0.8954;
  s.last_eval_step = 1000;
  auto parsed = Json::Parse(TrainStateToJson(s).dump());
  ASSERT_TRUE(parsed.ok());
  auto back = TrainStateFromJson(*parsed);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->step, 1234);
  EXPECT_EQ(back->epoch, 3);
  EXPECT_EQ(back->cursor, 17);
  EXPECT_EQ(back->window_steps, 7);
  EXPECT_EQ(back->window_loss_steps, 6);
  EXPECT_EQ(back->window_samples, 7 * 256);
  EXPECT_EQ(back->skipped, 1);
  EXPECT_EQ(back->last_eval_step, 1000);
  EXPECT_TRUE(SameBits(back->window_loss, s.window_loss));
  EXPECT_TRUE(SameBits(back->last_norm, s.last_norm));
  EXPECT_TRUE(SameBits(back->last_val_loss, s.last_val_loss));
  EXPECT_TRUE(SameBits(back->last_val_acc, s.last_val_acc));
  EXPECT_TRUE(SameBits(back->last_loss, -1.0));
}

TEST(TrainState, RejectsMalformed) {
  Json j = TrainStateToJson(TrainState{});
  j.set("window_loss", 0.5);  // a number, not hex bits
  auto r = TrainStateFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("window_loss"), std::string::npos);
  Json k = TrainStateToJson(TrainState{});
  k.set("cursor", Json());
  EXPECT_FALSE(TrainStateFromJson(k).ok());
  EXPECT_FALSE(TrainStateFromJson(Json("x")).ok());
}

TEST(CheckpointCompatKey, DependsOnModelAndOptimizerTypeOnly) {
  ResolvedSpec a;
  ResolvedSpec b = a;
  b.optimizer.lr = 0.5;
  b.training.epochs = 99;
  b.data.train = "/elsewhere";
  b.resources.nodes = 4;
  EXPECT_EQ(CheckpointCompatKey(a), CheckpointCompatKey(b));
  ResolvedSpec c = a;
  c.model.hidden = {512};
  EXPECT_NE(CheckpointCompatKey(a), CheckpointCompatKey(c));
  ResolvedSpec d = a;
  d.optimizer.type = "adam";
  EXPECT_NE(CheckpointCompatKey(a), CheckpointCompatKey(d));
}

}  // namespace
}  // namespace hpcai::runtime
