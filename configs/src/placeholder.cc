// placeholder: filled by issue 3
namespace hpcai { [[maybe_unused]] static int configs_placeholder = 0; }
