// /api/v5/trace: EMQX's log traces (session/trace.hpp), their definitions in the replicated
// table and this node's file of each.
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <ctime>

#include "api/log_api.hpp"
#include "api/node_ops.hpp"
#include "api/router.hpp"
#include "auth/base64.hpp"
#include "common/time_text.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kMaxReadBytes = 64ull * 1024 * 1024;  // EMQX's MAX_READ_TRACE_BYTES

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using time_text::rfc3339;

// "2021-11-04T18:17:38+08:00", "...Z", "...38.123+08:00", or epoch seconds as digits.
std::optional<std::int64_t> parse_time(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64());
  if (!v.is_string()) return std::nullopt;
  std::string_view t(v.get_string());
  if (!t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec != std::errc()) return std::nullopt;
    return n;
  }
  return time_text::parse_rfc3339(t);
}

bool valid_name(const std::string& n) {
  // EMQX's ^[A-Za-z]+[A-Za-z0-9-_]*$, at most 256 bytes.
  if (n.empty() || n.size() > 256) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(n[0])) return false;
  return std::all_of(n.begin(), n.end(), [&](char c) {
    return alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

Response trace_not_found(const std::string& name) {
  return error_response(404, "NOT_FOUND", name + " NOT FOUND");
}

json::object trace_json(const session::TraceSpec& s, std::int64_t now, json::object log_size) {
  json::object o{{"name", s.name},
                 {"type", session::trace_type_name(s.type)},
                 {"start_at", rfc3339(s.start_at)},
                 {"end_at", rfc3339(s.end_at)},
                 {"status", session::trace_status(s, now)},
                 {"payload_encode", s.payload_encode},
                 {"payload_limit", s.payload_limit},
                 {"formatter", s.formatter},
                 {"log_size", std::move(log_size)}};
  o[session::trace_type_name(s.type)] = s.filter;
  return o;
}

// The POST body as a TraceSpec, or the answer to give.
std::optional<session::TraceSpec> parse_trace(const std::string& body, Response& error) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    error = bad_request("expected a JSON object {name, type, clientid|topic|ip_address, ...}");
    return std::nullopt;
  }
  const auto& o = v.get_object();
  auto fail = [&](std::string_view message) {
    error = bad_request(message);
    return std::nullopt;
  };
  session::TraceSpec s;
  const json::value* name = o.if_contains("name");
  if (name == nullptr || !name->is_string()) return fail("name is required");
  s.name = std::string(name->get_string());
  if (!valid_name(s.name)) {
    return fail("name: Name should be ^[A-Za-z]+[A-Za-z0-9-_]*$, at most 256 characters");
  }
  const json::value* type = o.if_contains("type");
  if (type == nullptr || !type->is_string())
    return fail("type=[topic,clientid,ip_address] required");
  const std::string t(type->get_string());
  if (t == "clientid") {
    s.type = session::TraceType::ClientId;
  } else if (t == "topic") {
    s.type = session::TraceType::Topic;
  } else if (t == "ip_address") {
    s.type = session::TraceType::IpAddress;
  } else {
    return fail("type: must be clientid, topic or ip_address, got " + t);
  }
  const json::value* filter = o.if_contains(t);
  if (filter == nullptr || !filter->is_string() || filter->get_string().empty()) {
    return fail(t + " is required for a trace of type " + t);
  }
  s.filter = std::string(filter->get_string());
  const std::int64_t now = now_s();
  s.start_at = now;
  if (const json::value* st = o.if_contains("start_at"); st != nullptr && !st->is_null()) {
    auto at = parse_time(*st);
    if (!at) return fail("start_at: expected an RFC 3339 time or epoch seconds");
    s.start_at = *at;
  }
  s.end_at = s.start_at + session::TraceManager::kDefaultDuration;
  if (const json::value* en = o.if_contains("end_at"); en != nullptr && !en->is_null()) {
    auto at = parse_time(*en);
    if (!at) return fail("end_at: expected an RFC 3339 time or epoch seconds");
    s.end_at = *at;
  }
  if (s.end_at <= s.start_at) return fail("failed by start_at >= end_at");
  s.payload_encode.clear();  // the config's trace.payload_encode unless given
  if (const json::value* pe = o.if_contains("payload_encode")) {
    if (!pe->is_string() ||
        (pe->get_string() != "text" && pe->get_string() != "hex" && pe->get_string() != "hidden")) {
      return fail("payload_encode: must be text, hex or hidden");
    }
    s.payload_encode = std::string(pe->get_string());
  }
  if (const json::value* f = o.if_contains("formatter")) {
    if (!f->is_string() || (f->get_string() != "text" && f->get_string() != "json")) {
      return fail("formatter: must be text or json");
    }
    s.formatter = std::string(f->get_string());
  }
  if (const json::value* l = o.if_contains("payload_limit")) {
    if (!l->is_int64() || l->get_int64() < 0 || l->get_int64() > (1 << 30)) {
      return fail("payload_limit: must be an integer, 0 (no limit) or more");
    }
    s.payload_limit = static_cast<std::uint32_t>(l->get_int64());
  }
  for (const auto& kv : o) {
    const std::string_view k = kv.key();
    if (k != "name" && k != "type" && k != "clientid" && k != "topic" && k != "ip_address" &&
        k != "start_at" && k != "end_at" && k != "payload_encode" && k != "formatter" &&
        k != "payload_limit") {
      return fail("unknown field " + std::string(k));
    }
  }
  return s;
}

constexpr std::chrono::seconds kNodeWait{5};

// `bytes` of `node`'s file of trace `name` from `position`: this node's read directly, a
// peer's through ClusterControl::ask (NodeOps trace_read). nullopt: the node did not answer.
std::optional<session::TraceManager::Read> read_on(ClusterControl& control,
                                                   const session::TraceManager& m,
                                                   const std::string& node, const std::string& name,
                                                   std::uint64_t position, std::uint64_t bytes) {
  if (node == m.node_name()) return m.read_trace_log(name, position, bytes);
  const json::object args{{"name", name}, {"position", position}, {"bytes", bytes}};
  auto a = control.ask(node, "trace_read", json::serialize(args), kNodeWait);
  if (!a) return std::nullopt;
  session::TraceManager::Read r;
  if (a->status == 404) return r;  // found = false
  json::error_code ec;
  json::value v = json::parse(a->body, ec);
  if (a->status != 200 || ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* size = o.if_contains("size");
  const auto* mtime = o.if_contains("mtime");
  const auto* data = o.if_contains("bytes");
  if (!size || !mtime || !data || !data->is_string()) return std::nullopt;
  auto raw = auth::unbase64(data->get_string());
  if (!raw) return std::nullopt;
  r.found = true;
  r.size = size->to_number<std::uint64_t>();
  r.mtime = mtime->to_number<std::int64_t>();
  r.bytes = std::move(*raw);
  return r;
}

// The node a request names (?node=, default this one), when it is running.
std::optional<std::string> node_of(const Call& c, ClusterControl& control,
                                   const session::TraceManager& m, Response& error) {
  auto node = query_param(c.target, "node");
  if (!node || *node == m.node_name()) return m.node_name();
  const auto running = control.running_nodes();
  if (std::find(running.begin(), running.end(), *node) == running.end()) {
    error = error_response(404, "NODE_ERROR", "node " + *node + ": not a running member");
    return std::nullopt;
  }
  return *node;
}

// Every running member's file size of each trace: {"trace": {"node": size}}.
std::map<std::string, json::object> log_sizes(ClusterControl& control,
                                              const session::TraceManager& m) {
  std::map<std::string, json::object> out;
  for (const auto& t : m.list())
    out[t.name][m.node_name()] = m.read_trace_log(t.name, 0, 0).size;
  std::vector<std::string> peers;
  for (auto& node : control.running_nodes()) {
    if (node != m.node_name()) peers.push_back(std::move(node));
  }
  const auto answers = ask_each(control, peers, "trace_sizes", "{}", kNodeWait);
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const auto& node = peers[i];
    const auto& a = answers[i];
    if (!a || a->status != 200) continue;
    json::error_code ec;
    json::value v = json::parse(a->body, ec);
    if (ec || !v.is_object()) continue;
    for (const auto& kv : v.as_object()) {
      auto it = out.find(std::string(kv.key()));
      if (it != out.end() && kv.value().is_number()) it->second[node] = kv.value();
    }
  }
  return out;
}

// CRC-32 (ISO 3309, the zip's), table-driven.
std::uint32_t crc32(std::string_view data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data)
    c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put16(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}

std::uint32_t dos_time_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const std::uint32_t date =
      static_cast<std::uint32_t>(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
  const std::uint32_t time =
      static_cast<std::uint32_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  return (date << 16) | time;
}

}  // namespace

std::string make_zip(const std::vector<std::pair<std::string, std::string>>& files,
                     std::uint32_t dos_time) {
  std::string out, central;
  for (const auto& [name, data] : files) {
    const std::uint32_t offset = static_cast<std::uint32_t>(out.size());
    const std::uint32_t crc = crc32(data);
    const auto size = static_cast<std::uint32_t>(data.size());
    // Local file header: stored (method 0), no data descriptor.
    put32(out, 0x04034b50);
    put16(out, 20);  // version needed: 2.0
    put16(out, 0);   // flags
    put16(out, 0);   // stored
    put32(out, dos_time);
    put32(out, crc);
    put32(out, size);
    put32(out, size);
    put16(out, static_cast<std::uint32_t>(name.size()));
    put16(out, 0);
    out += name;
    out += data;
    put32(central, 0x02014b50);
    put16(central, (3 << 8) | 20);  // made by: Unix, 2.0
    put16(central, 20);
    put16(central, 0);
    put16(central, 0);
    put32(central, dos_time);
    put32(central, crc);
    put32(central, size);
    put32(central, size);
    put16(central, static_cast<std::uint32_t>(name.size()));
    put16(central, 0);               // extra
    put16(central, 0);               // comment
    put16(central, 0);               // disk
    put16(central, 0);               // internal attributes
    put32(central, 0100600u << 16);  // external: a regular file, 0600
    put32(central, offset);
    central += name;
  }
  const auto central_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(files.size()));
  put16(out, static_cast<std::uint32_t>(files.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, central_offset);
  put16(out, 0);
  return out;
}

void add_trace_routes(RouteTable& t, const session::NodeState& state, ClusterControl& control) {
  // The API changes the traces (as access_api.cpp the banned list); the manager is
  // internally locked.
  auto& m = const_cast<session::TraceManager&>(state.traces);
  auto* cc = &control;
  t.add("GET", "/api/v5/trace", "every log trace", [&m, cc](const Call&) {
    auto all = m.list();
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.start_at != b.start_at ? a.start_at > b.start_at : a.name < b.name;
    });
    const std::int64_t now = now_s();
    auto sizes = log_sizes(*cc, m);
    json::array out;
    for (const auto& s : all)
      out.push_back(trace_json(s, now, std::move(sizes[s.name])));
    return json_response(200, out);
  });
  t.add("POST", "/api/v5/trace", "create a log trace", [&m](const Call& c) {
    Response error;
    auto spec = parse_trace(c.request.body, error);
    if (!spec) return error;
    auto outcome = m.create(*spec);
    if (outcome.status != 200) return error_response(outcome.status, outcome.code, outcome.message);
    auto made = m.get(spec->name);
    const auto& made_spec = made.value_or(*spec);
    return json_response(
        200, trace_json(made_spec, now_s(),
                        {{m.node_name(), m.read_trace_log(made_spec.name, 0, 0).size}}));
  });
  t.add("DELETE", "/api/v5/trace", "delete every log trace", [&m](const Call&) {
    m.clear();
    return no_content();
  });
  t.add("DELETE", "/api/v5/trace/{name}", "delete a log trace", [&m](const Call& c) {
    if (!m.remove(c.params[0])) return trace_not_found(c.params[0]);
    return no_content();
  });
  t.add("PUT", "/api/v5/trace/{name}/stop", "stop a log trace", [&m](const Call& c) {
    if (!m.stop_trace(c.params[0])) return trace_not_found(c.params[0]);
    return json_response(200, json::object{{"enable", false}, {"name", c.params[0]}});
  });
  t.add("GET", "/api/v5/trace/{name}/download",
        "the trace's files in a zip: every running member's, or ?node='s",
        [&m, cc](const Call& call) {
          auto spec = m.get(call.params[0]);
          if (!spec) return trace_not_found(call.params[0]);
          std::vector<std::string> nodes;
          if (query_param(call.target, "node")) {
            Response error;
            auto node = node_of(call, *cc, m, error);
            if (!node) return error;
            nodes.push_back(*node);
          } else {
            nodes = cc->running_nodes();
          }
          const std::string file = m.file_of(spec->name);
          std::vector<std::pair<std::string, std::string>> entries;
          for (const auto& node : nodes) {
            // A peer's file comes in one cluster message: NodeOps::kMaxTraceBytes of it.
            const std::uint64_t bound =
                node == m.node_name() ? kMaxReadBytes * 32 : NodeOps::kMaxTraceBytes;
            auto read = read_on(*cc, m, node, spec->name, 0, bound);
            if (!read || read->bytes.empty()) continue;
            entries.emplace_back(node + "-" + file.substr(file.rfind('/') + 1),
                                 std::move(read->bytes));
          }
          if (entries.empty()) return error_response(404, "NOT_FOUND", "Trace is empty");
          Response r;
          r.content_type = "application/x-zip";
          r.content_disposition = "attachment; filename=" + spec->name + ".zip";
          r.body = make_zip(entries, dos_time_now());
          return r;
        });
  t.add("GET", "/api/v5/trace/{name}/log", "read a member's file of a trace (?node=)",
        [&m, cc](const Call& c) {
          if (!m.get(c.params[0])) return trace_not_found(c.params[0]);
          Response error;
          auto node = node_of(c, *cc, m, error);
          if (!node) return error;
          auto number = [&](std::string_view key, std::uint64_t dflt, std::uint64_t max,
                            std::uint64_t& out) {
            auto text = query_param(c.target, key);
            out = dflt;
            if (!text) return true;
            auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), out);
            return ec == std::errc() && p == text->data() + text->size() && out <= max;
          };
          std::uint64_t bytes = 0, position = 0;
          if (!number("bytes", 1000, kMaxReadBytes, bytes)) {
            return bad_request("bytes: an integer from 0 to 67108864");
          }
          if (!number("position", 0, std::numeric_limits<std::int64_t>::max(), position)) {
            return error_response(400, "INVALID_PARAMETER", "position: a byte offset (integer)");
          }
          auto read = read_on(*cc, m, *node, c.params[0], position, bytes);
          if (!read) return error_response(404, "NODE_ERROR", "node " + *node + " did not answer");
          if (!read->found) return trace_not_found(c.params[0]);
          const auto& r = *read;
          json::object meta{{"bytes", bytes}, {"position", position + r.bytes.size()}};
          if (position + r.bytes.size() >= r.size) meta["hint"] = "eof";
          return json_response(200, json::object{{"items", r.bytes}, {"meta", std::move(meta)}});
        });
  t.add("GET", "/api/v5/trace/{name}/log_detail", "every running member's file: size, mtime",
        [&m, cc](const Call& call) {
          if (!m.get(call.params[0])) return trace_not_found(call.params[0]);
          json::array out;
          for (const auto& node : cc->running_nodes()) {
            auto r = read_on(*cc, m, node, call.params[0], 0, 0);
            if (!r || !r->found) continue;
            out.push_back(json::object{{"node", node}, {"size", r->size}, {"mtime", r->mtime}});
          }
          return json_response(200, out);
        });
}

}  // namespace emqxd::api
