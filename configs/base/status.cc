#include "hpcai/base/status.h"

namespace hpcai {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kSpecError: return "SpecError";
    case Code::kNotFound: return "NotFound";
    case Code::kCorrupt: return "Corrupt";
    case Code::kIOError: return "IOError";
    case Code::kUnavailable: return "Unavailable";
    case Code::kRefused: return "Refused";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kNumerical: return "Numerical";
    case Code::kInternal: return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return exit_code::kOk;
    case Code::kInvalidArgument:
    case Code::kSpecError: return exit_code::kSpecError;
    case Code::kNotFound:
    case Code::kCorrupt: return exit_code::kDataError;
    case Code::kNumerical: return exit_code::kNumerical;
    case Code::kUnavailable:
    case Code::kRefused: return exit_code::kSlurmError;
    default: return exit_code::kFailure;
  }
}

}  // namespace hpcai
