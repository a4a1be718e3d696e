#include "hpcai/runtime/signals.h"

#include <gtest/gtest.h>

#include <csignal>

namespace hpcai::runtime {
namespace {

TEST(Signals, Names) {
  EXPECT_EQ(SignalNumber("USR1").value(), SIGUSR1);
  EXPECT_EQ(SignalNumber("SIGTERM").value(), SIGTERM);
  auto bad = SignalNumber("KILL");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("USR1"), std::string::npos);
}

TEST(Signals, HandlerOnlyRecordsTheFirstSignal) {
  ASSERT_TRUE(InstallStopSignals({"USR1", "TERM"}).ok());
  ResetStopSignal();
  EXPECT_EQ(StopSignalReceived(), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);  // process survives: handled, not default action
  EXPECT_EQ(StopSignalReceived(), SIGUSR1);
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_EQ(StopSignalReceived(), SIGUSR1);
  ResetStopSignal();
  EXPECT_EQ(StopSignalReceived(), 0);
  EXPECT_FALSE(InstallStopSignals({"BOGUS"}).ok());
}

}  // namespace
}  // namespace hpcai::runtime
