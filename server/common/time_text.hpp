#pragma once
// Times as the HTTP API writes and reads them: RFC 3339 in UTC, as EMQX writes them
// ("2026-12-05T13:00:00+00:00"), and Unix milliseconds.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emqxd::time_text {

// Unix seconds as "2026-12-05T13:00:00+00:00".
std::string rfc3339(std::int64_t s);
// Unix milliseconds as "2026-12-05T13:00:00.123+00:00".
std::string rfc3339_ms(std::int64_t ms);
// "2026-12-05T13:00:00Z", "...+01:00", "...-05:30", with optional fractions of a second,
// to Unix seconds; nullopt when it is not such a time.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);
// Unix milliseconds given as digits, or an RFC 3339 time (EMQX's timestamp parameters).
std::optional<std::int64_t> parse_time_ms(std::string_view text);

}  // namespace emqxd::time_text
