#pragma once
// Topic templates, as emqtt-bench writes them: %i is the client's sequence number (the
// -n start number plus its index), %c its client id, %u its user name, %% a percent sign.
#include <cstdint>
#include <string>
#include <string_view>

namespace emqxd::bench {

std::string expand_topic(std::string_view tmpl, std::uint64_t seq, std::string_view client_id,
                         std::string_view username);

// The filter a subscriber uses to receive what publishers with `tmpl` send: every level
// holding a variable becomes '+' ("bench/%i/data" -> "bench/+/data").
std::string filter_for_template(std::string_view tmpl);

bool is_shared_filter(std::string_view filter);

}  // namespace emqxd::bench
