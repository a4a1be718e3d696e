// TEMPORARY until io::ReadDatasetInfo lands on main (issue: data helper):
// reports the data as not checked.  Replaced by the real check in step 6.
#include "spec_data_check.h"

namespace hpcai::cli {

Status CheckSpecData(const ResolvedSpec& spec, DataCheckReport* report) {
  *report = DataCheckReport{};
  report->note = "not checked: this build has no data reader yet (" + spec.data.train + ")";
  return Status::OK();
}

}  // namespace hpcai::cli
