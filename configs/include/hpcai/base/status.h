// Status / Result<T>: the one channel for recoverable failures in hpcai.
//
// Every function that can fail for a reason a user can act on (bad spec,
// Slurm refusal, missing or corrupt file) returns a Status or a Result<T>.
// Exceptions never cross a module boundary; abort() is reserved for
// programming errors.  (Modelled on leveldb::Status.)
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace hpcai {

// Error categories map to documented process exit codes (see ExitCodeFor).
enum class Code {
  kOk = 0,
  kInvalidArgument,   // bad user input (CLI args, spec values)
  kSpecError,         // spec parse/validation errors (exit 2)
  kNotFound,          // missing file, run, dataset
  kCorrupt,           // checksum mismatch, truncated file, bad format
  kIOError,           // OS-level read/write failure
  kUnavailable,       // Slurm down/unreachable, transient
  kRefused,           // Slurm refused the request (bad partition, limits)
  kFailedPrecondition,// run still live, incompatible resume, no GPU
  kNumerical,         // non-finite loss/gradient
  kInternal,          // bug: should not happen
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status SpecError(std::string m) { return {Code::kSpecError, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Corrupt(std::string m) { return {Code::kCorrupt, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Refused(std::string m) { return {Code::kRefused, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
  static Status Numerical(std::string m) { return {Code::kNumerical, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: <message>" (or "OK").
  std::string ToString() const;

  // Returns a copy with `context + ": "` prepended to the message.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T>: either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                 // NOLINT(implicit)
  Result(Status status) : v_(std::move(status)) {            // NOLINT(implicit)
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result constructed from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { Check(); return std::get<T>(v_); }
  const T& value() const& { Check(); return std::get<T>(v_); }
  T&& value() && { Check(); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void Check() const {
    if (!ok()) std::abort();  // programming error: value() on a failed Result
  }
  std::variant<T, Status> v_;
};

// Process exit codes (documented in docs/exit-codes.md).
namespace exit_code {
constexpr int kOk = 0;
constexpr int kFailure = 1;         // generic / runtime failure
constexpr int kSpecError = 2;       // invalid spec or CLI usage
constexpr int kDataError = 3;       // missing/corrupt data or checkpoint
constexpr int kNumerical = 4;       // non-finite loss/gradient
constexpr int kSlurmError = 5;      // Slurm unreachable or refused
constexpr int kRequeued = 75;       // preempted, checkpointed, requeued (EX_TEMPFAIL)
constexpr int kNotImplemented = 64; // subcommand not implemented in this build
}  // namespace exit_code

int ExitCodeFor(const Status& s);

}  // namespace hpcai

// Propagate a non-OK Status from an expression returning Status.
#define HPCAI_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::hpcai::Status _hpcai_st = (expr);          \
    if (!_hpcai_st.ok()) return _hpcai_st;       \
  } while (0)

#define HPCAI_CONCAT_INNER(a, b) a##b
#define HPCAI_CONCAT(a, b) HPCAI_CONCAT_INNER(a, b)
// `HPCAI_ASSIGN_OR_RETURN(auto x, F());` assigns the value or returns the Status.
#define HPCAI_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto HPCAI_CONCAT(_hpcai_r_, __LINE__) = (expr);                          \
  if (!HPCAI_CONCAT(_hpcai_r_, __LINE__).ok())                              \
    return HPCAI_CONCAT(_hpcai_r_, __LINE__).status();                      \
  lhs = std::move(HPCAI_CONCAT(_hpcai_r_, __LINE__)).value()
