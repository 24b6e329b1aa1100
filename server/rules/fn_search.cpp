// String functions that search (emqx_variform_bif.erl: split, tokens, replace, find, the
// regular expressions) and that join.
#include <algorithm>

#include "rules/functions.hpp"
#include "rules/regex.hpp"

namespace emqxd::rules::fn {

namespace json = boost::json;

namespace {

bool list_out(Call& c, Value& out, const std::vector<std::string_view>& parts) {
  std::size_t bytes = kNodeCost;
  for (auto p : parts)
    bytes += kNodeCost + p.size();
  if (!c.charge(bytes)) return false;
  json::array a;
  a.reserve(parts.size());
  for (auto p : parts)
    a.emplace_back(json::string(p));
  out = json::value(std::move(a));
  return true;
}

// A search may cost up to its match limit whatever the subject's size: it is charged
// to the run's budget, so that a rule cannot search without end.
bool charge_search(Call& c, std::string_view subject) {
  return c.charge(detail::match_limit(subject) / 4);
}

bool regex_failed(Call& c, const detail::RegexResult& r) {
  if (r.status == detail::RegexStatus::BadPattern) {
    return c.fail("bad regular expression: " + r.error);
  }
  return c.fail(r.error);
}

}  // namespace

// string:split/3: at every separator, the first or the last; `split/2` and the options
// without _notrim drop empty parts.
bool split_(Call& c, Value& out) {
  auto s = c.text(0);
  auto sep = c.str(1);
  if (!s || !sep) return c.badarg();
  std::string_view where = "all";
  bool keep_empty = false;
  if (c.size() == 3) {
    auto opt = c.str(2);
    if (!opt) return c.badarg();
    if (*opt == "notrim") {
      keep_empty = true;
    } else if (*opt == "leading" || *opt == "trailing") {
      where = *opt;
    } else if (*opt == "leading_notrim" || *opt == "trailing_notrim") {
      where = *opt == "leading_notrim" ? "leading" : "trailing";
      keep_empty = true;
    } else {
      return c.badarg();
    }
  }
  const std::string_view p(*sep);
  std::vector<std::string_view> parts;
  if (p.empty()) {
    parts.push_back(*s);
  } else if (where == "all") {
    std::size_t from = 0;
    for (std::size_t at; (at = s->find(p, from)) != std::string_view::npos; from = at + p.size())
      parts.push_back(s->substr(from, at - from));
    parts.push_back(s->substr(from));
  } else {
    const std::size_t at = where == "leading" ? s->find(p) : s->rfind(p);
    if (at == std::string_view::npos) {
      parts.push_back(*s);
    } else {
      parts.push_back(s->substr(0, at));
      parts.push_back(s->substr(at + p.size()));
    }
  }
  if (!keep_empty) {
    parts.erase(std::remove(parts.begin(), parts.end(), std::string_view()), parts.end());
  }
  return list_out(c, out, parts);
}

// string:lexemes/2 over bytes (EMQX passes binary_to_list/1 of both): any run of
// separator bytes splits; "\r\n" is one character, a separator only with 'nocrlf'.
bool tokens_(Call& c, Value& out) {
  auto s = c.text(0);
  auto seps = c.str(1);
  if (!s || !seps) return c.badarg();
  bool crlf = false;
  if (c.size() == 3) {
    auto opt = c.str(2);
    if (!opt || *opt != "nocrlf") return c.badarg();
    crlf = true;
  }
  std::string set(*seps);
  if (crlf) set += "\r\n";
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < s->size()) {
    const bool pair = (*s)[i] == '\r' && i + 1 < s->size() && (*s)[i + 1] == '\n';
    const std::size_t width = pair ? 2 : 1;
    const bool sep = pair ? crlf : set.find((*s)[i]) != std::string::npos;
    if (sep) {
      if (i > start) parts.push_back(s->substr(start, i - start));
      start = i + width;
    }
    i += width;
  }
  if (start < s->size()) parts.push_back(s->substr(start));
  return list_out(c, out, parts);
}

bool concat_(Call& c, Value& out) {
  std::string s;
  if (c.size() == 2) {
    append_text(c[0], s);
    append_text(c[1], s);
  } else {
    auto list = c.array(0);
    if (!list) return c.badarg();
    for (const auto& e : *list)
      append_text(e, s);
  }
  return c.text_out(out, std::move(s));
}

// string:replace/4: all (default), leading or trailing occurrences.
bool replace_(Call& c, Value& out) {
  auto s = c.text(0);
  auto p = c.str(1);
  auto r = c.str(2);
  if (!s || !p || !r) return c.badarg();
  std::string_view where = "all";
  if (c.size() == 4) {
    auto w = c.str(3);
    if (!w || (*w != "all" && *w != "leading" && *w != "trailing")) return c.badarg();
    where = *w;
  }
  const std::string_view pat(*p);
  const std::string_view rep(*r);
  if (pat.empty()) return c.text_out(out, std::string(*s));
  std::string result;
  if (where == "all") {
    std::size_t from = 0;
    for (std::size_t at; (at = s->find(pat, from)) != std::string_view::npos;
         from = at + pat.size()) {
      result.append(s->substr(from, at - from)).append(rep);
      if (result.size() > c.budget_left()) return c.fail("the result is too large");
    }
    result.append(s->substr(from));
  } else {
    const std::size_t at = where == "leading" ? s->find(pat) : s->rfind(pat);
    if (at == std::string_view::npos) return c.text_out(out, std::string(*s));
    result.append(s->substr(0, at)).append(rep).append(s->substr(at + pat.size()));
  }
  return c.text_out(out, std::move(result));
}

// string:find/3: the rest of the string from the first (or last) occurrence; "" if none.
bool find_(Call& c, Value& out) {
  auto s = c.text(0);
  auto p = c.str(1);
  if (!s || !p) return c.badarg();
  bool trailing = false;
  if (c.size() == 3) {
    auto d = c.str(2);
    if (!d || (*d != "leading" && *d != "trailing")) return c.badarg();
    trailing = *d == "trailing";
  }
  const std::string_view pat(*p);
  const std::size_t at = trailing ? s->rfind(pat) : s->find(pat);
  return c.text_out(out, at == std::string_view::npos ? std::string() : std::string(s->substr(at)));
}

bool join_to_string_(Call& c, Value& out) {
  std::string_view sep = ", ";
  const json::array* list = nullptr;
  if (c.size() == 1) {
    list = c.array(0);
  } else {
    auto s = c.str(0);
    list = c.array(1);
    if (!s) return c.badarg();
    sep = *s;
  }
  if (list == nullptr) return c.badarg();
  std::string r;
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (i > 0) r.append(sep);
    append_text((*list)[i], r);
    if (r.size() > c.budget_left()) return c.fail("the result is too large");
  }
  return c.text_out(out, std::move(r));
}

bool regex_match_(Call& c, Value& out) {
  auto s = c.text(0);
  auto re = c.str(1);
  if (!s || !re) return c.badarg();
  if (!charge_search(c, *s)) return false;
  bool matched = false;
  auto r = detail::regex_match(*re, *s, matched);
  if (r.status != detail::RegexStatus::Ok) return regex_failed(c, r);
  out = json::value(matched);
  return true;
}

bool regex_replace_(Call& c, Value& out) {
  auto s = c.text(0);
  auto re = c.str(1);
  auto rep = c.str(2);
  if (!s || !re || !rep) return c.badarg();
  if (!charge_search(c, *s)) return false;
  std::string result;
  auto r = detail::regex_replace(*re, *s, *rep, c.budget_left(), result);
  if (r.status != detail::RegexStatus::Ok) return regex_failed(c, r);
  return c.text_out(out, std::move(result));
}

bool regex_extract_(Call& c, Value& out) {
  auto s = c.text(0);
  auto re = c.str(1);
  if (!s || !re) return c.badarg();
  if (!charge_search(c, *s)) return false;
  std::vector<std::string> groups;
  auto r = detail::regex_extract(*re, *s, groups);
  if (r.status != detail::RegexStatus::Ok) return regex_failed(c, r);
  std::vector<std::string_view> views(groups.begin(), groups.end());
  return list_out(c, out, views);
}

}  // namespace emqxd::rules::fn
