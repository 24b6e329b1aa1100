#include "rules/template.hpp"

namespace emqxd::rules {

namespace json = boost::json;

std::optional<Template> Template::parse(std::string_view text, std::string& error) {
  Template t;
  t.source_ = std::string(text);
  std::size_t i = 0;
  std::string literal;
  while (i < text.size()) {
    const auto open = text.find("${", i);
    if (open == std::string_view::npos) {
      literal.append(text.substr(i));
      break;
    }
    if (open > i && text[open - 1] == '$') {
      // "$${x}" is the text "${x}" (EMQX's escape).
      literal.append(text.substr(i, open - 1 - i));
      const auto end = text.find('}', open + 2);
      const auto stop = end == std::string_view::npos ? text.size() : end + 1;
      literal.append(text.substr(open, stop - open));
      i = stop;
      continue;
    }
    literal.append(text.substr(i, open - i));
    const auto close = text.find('}', open + 2);
    if (close == std::string_view::npos) {
      error = "unclosed placeholder at offset " + std::to_string(open) + ": missing '}'";
      return std::nullopt;
    }
    std::string_view inner = text.substr(open + 2, close - open - 2);
    Part var;
    var.var = true;
    var.text = std::string(text.substr(open, close - open + 1));
    if (inner == ".") {
      // "${.}": the whole of the data (no names).
      if (!literal.empty()) t.parts_.push_back({false, std::move(literal), {}});
      literal.clear();
      t.parts_.push_back(std::move(var));
      i = close + 1;
      continue;
    }
    if (inner.starts_with('.')) inner.remove_prefix(1);  // "${.a.b}" is "${a.b}"
    std::size_t s = 0;
    while (true) {
      auto dot = inner.find('.', s);
      auto name = inner.substr(s, dot == std::string_view::npos ? std::string_view::npos : dot - s);
      // Trimmed, as EMQX does ("${ payload }").
      while (!name.empty() && name.front() == ' ')
        name.remove_prefix(1);
      while (!name.empty() && name.back() == ' ')
        name.remove_suffix(1);
      if (name.empty()) {
        error = "empty name in placeholder " + var.text;
        return std::nullopt;
      }
      var.path.emplace_back(name);
      if (dot == std::string_view::npos) break;
      s = dot + 1;
    }
    if (!literal.empty()) t.parts_.push_back({false, std::move(literal), {}});
    literal.clear();
    t.parts_.push_back(std::move(var));
    i = close + 1;
  }
  if (!literal.empty()) t.parts_.push_back({false, std::move(literal), {}});
  return t;
}

Template Template::checked(std::string_view text) {
  std::string err;
  auto t = parse(text, err);
  return t ? std::move(*t) : Template{};
}

bool Template::has_placeholders() const {
  for (const auto& p : parts_) {
    if (p.var) return true;
  }
  return false;
}

Value lookup(const json::object& data, const std::vector<std::string>& path) {
  if (path.empty()) return json::value(data);  // "${.}"
  const json::value* at = nullptr;
  std::optional<json::value> decoded;  // a string of JSON read into on the way
  for (std::size_t k = 0; k < path.size(); ++k) {
    if (k == 0) {
      at = data.if_contains(path[0]);
    } else {
      if (at->is_string()) {
        auto d = json_decode(at->get_string());
        if (!d) return std::nullopt;
        decoded = std::move(*d);
        at = &*decoded;
      }
      at = at->is_object() ? at->get_object().if_contains(path[k]) : nullptr;
    }
    if (at == nullptr) return std::nullopt;
  }
  return json::value(*at);
}

void Template::render(const json::object& data, std::string& out, std::string_view missing) const {
  for (const auto& p : parts_) {
    if (!p.var) {
      out += p.text;
      continue;
    }
    Value v = lookup(data, p.path);
    if (v) {
      append_text(*v, out);
    } else {
      out += missing;
    }
  }
}

bool Template::render_strict(const json::object& data, std::string& out) const {
  for (const auto& p : parts_) {
    if (!p.var) {
      out += p.text;
      continue;
    }
    Value v = lookup(data, p.path);
    if (!v) return false;
    append_text(*v, out);
  }
  return true;
}

Value Template::value(const json::object& data) const {
  if (single()) return lookup(data, parts_[0].path);
  return json::value(json::string(render(data)));
}

Value Template::read(std::size_t i, const json::object& data) const {
  return lookup(data, parts_[i].path);
}

}  // namespace emqxd::rules
