// placeholder: module runtime is filled by its issue.
namespace hpcai { [[maybe_unused]] static int runtime_placeholder = 0; }
