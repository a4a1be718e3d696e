#include "hpcai/io/rundir.h"

#include "hpcai/base/fs.h"

namespace hpcai::io {

Json Heartbeat::ToJson() const {
  Json j = Json::MakeObject();
  j.set("step", step);
  j.set("total_steps", total_steps);
  j.set("epoch", epoch);
  j.set("epochs", epochs);
  j.set("loss", loss);
  j.set("lr", lr);
  j.set("samples_per_sec", samples_per_sec);
  j.set("eta_seconds", eta_seconds);
  j.set("val_accuracy", val_accuracy);
  j.set("phase", phase);
  j.set("job_id", job_id);
  j.set("restart", restart);
  j.set("world_size", world_size);
  j.set("updated_at", updated_at);
  if (!note.empty()) j.set("note", note);
  return j;
}

Heartbeat Heartbeat::FromJson(const Json& j) {
  Heartbeat h;
  h.step = j.get("step").as_int();
  h.total_steps = j.get("total_steps").as_int();
  h.epoch = j.get("epoch").as_int();
  h.epochs = j.get("epochs").as_int();
  h.loss = j.get("loss").as_double();
  h.lr = j.get("lr").as_double();
  h.samples_per_sec = j.get("samples_per_sec").as_double();
  h.eta_seconds = j.get("eta_seconds").as_double(-1);
  h.val_accuracy = j.get("val_accuracy").as_double(-1);
  h.phase = j.get("phase").as_string();
  h.job_id = j.get("job_id").as_string();
  h.restart = static_cast<int>(j.get("restart").as_int());
  h.world_size = static_cast<int>(j.get("world_size").as_int(1));
  h.updated_at = j.get("updated_at").as_double();
  h.note = j.get("note").as_string();
  return h;
}

Status WriteHeartbeat(const RunPaths& paths, const Heartbeat& hb) {
  return fs::AtomicWriteFile(paths.heartbeat(), hb.ToJson().dump(2) + "\n");
}

Result<Heartbeat> ReadHeartbeat(const RunPaths& paths) {
  HPCAI_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(paths.heartbeat(), 1 << 20));
  HPCAI_ASSIGN_OR_RETURN(Json j, Json::Parse(text));
  return Heartbeat::FromJson(j);
}

}  // namespace hpcai::io
