#include "hpcai/runtime/train_state.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace hpcai::runtime {
namespace {

// Doubles as the hex of their bits: JSON number formatting need not
// round-trip, and metrics must be bitwise the same after a resume.
std::string DoubleBits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, bits);
  return buf;
}

bool BitsDouble(const Json& j, double* out) {
  const std::string& s = j.as_string();
  if (s.size() != 16) return false;
  char* end = nullptr;
  uint64_t bits = std::strtoull(s.c_str(), &end, 16);
  if (*end != '\0') return false;
  std::memcpy(out, &bits, sizeof(bits));
  return true;
}

}  // namespace

Json TrainStateToJson(const TrainState& s) {
  Json j = Json::MakeObject();
  j.set("step", s.step);
  j.set("epoch", s.epoch);
  j.set("cursor", s.cursor);
  j.set("window_steps", s.window_steps);
  j.set("window_loss_steps", s.window_loss_steps);
  j.set("window_loss", DoubleBits(s.window_loss));
  j.set("window_samples", s.window_samples);
  j.set("skipped", s.skipped);
  j.set("last_norm", DoubleBits(s.last_norm));
  j.set("last_loss", DoubleBits(s.last_loss));
  j.set("last_val_loss", DoubleBits(s.last_val_loss));
  j.set("last_val_acc", DoubleBits(s.last_val_acc));
  j.set("last_eval_step", s.last_eval_step);
  return j;
}

Result<TrainState> TrainStateFromJson(const Json& j) {
  TrainState s;
  if (!j.is_object()) return Status::Corrupt("training state: expected a JSON object");
  struct IntField { const char* key; int64_t* out; };
  for (IntField f : {IntField{"step", &s.step}, IntField{"epoch", &s.epoch}, IntField{"cursor", &s.cursor},
                     IntField{"window_steps", &s.window_steps}, IntField{"window_loss_steps", &s.window_loss_steps},
                     IntField{"window_samples", &s.window_samples}, IntField{"skipped", &s.skipped},
                     IntField{"last_eval_step", &s.last_eval_step}}) {
    if (!j.get(f.key).is_number()) return Status::Corrupt(std::string("training state: missing integer '") + f.key + "'");
    *f.out = j.get(f.key).as_int();
  }
  struct DoubleField { const char* key; double* out; };
  for (DoubleField f : {DoubleField{"window_loss", &s.window_loss}, DoubleField{"last_norm", &s.last_norm},
                        DoubleField{"last_loss", &s.last_loss}, DoubleField{"last_val_loss", &s.last_val_loss},
                        DoubleField{"last_val_acc", &s.last_val_acc}}) {
    if (!BitsDouble(j.get(f.key), f.out)) {
      return Status::Corrupt(std::string("training state: '") + f.key + "' is not a 16-digit hex double");
    }
  }
  if (s.step < 0 || s.epoch < 0 || s.cursor < 0) return Status::Corrupt("training state: negative position");
  return s;
}


}  // namespace hpcai::runtime
