#include "topic_template.hpp"

namespace emqxd::bench {

std::string expand_topic(std::string_view tmpl, std::uint64_t seq, std::string_view client_id,
                         std::string_view username) {
  std::string out;
  out.reserve(tmpl.size() + 16);
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%' || i + 1 == tmpl.size()) {
      out += tmpl[i];
      continue;
    }
    switch (tmpl[i + 1]) {
      case 'i':
        out += std::to_string(seq);
        break;
      case 'c':
        out += client_id;
        break;
      case 'u':
        out += username;
        break;
      case '%':
        out += '%';
        break;
      default:
        out += tmpl[i];
        out += tmpl[i + 1];
        break;
    }
    ++i;
  }
  return out;
}

std::string filter_for_template(std::string_view tmpl) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    const auto slash = tmpl.find('/', start);
    const auto level =
        tmpl.substr(start, slash == std::string_view::npos ? tmpl.npos : slash - start);
    if (level.find('%') != std::string_view::npos) {
      out += '+';
    } else {
      out += level;
    }
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

bool is_shared_filter(std::string_view filter) {
  return filter.starts_with("$share/") || filter.starts_with("$queue/");
}

}  // namespace emqxd::bench
