#include "auth/authz_http.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <boost/json.hpp>
#include <cctype>

#include "common/log.hpp"

namespace emqxd::auth {

namespace {

std::string address_text(const std::optional<IpAddress>& a) {
  if (!a) return {};
  const auto& b = a->bytes;
  static constexpr std::uint8_t kV4Prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char text[INET6_ADDRSTRLEN] = {};
  if (std::equal(std::begin(kV4Prefix), std::end(kV4Prefix), b.begin())) {
    ::inet_ntop(AF_INET, b.data() + 12, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, b.data(), text, sizeof text);
  }
  return text;
}

struct Values {
  const Subject& s;
  const AclAction& a;
  std::string_view topic;
  std::string peerhost;
};

std::string render(std::string_view text, const Values& v, bool encode) {
  std::string out;
  std::size_t i = 0;
  auto take = [&](std::string_view name, std::string_view value) {
    if (text.compare(i, name.size(), name) != 0) return false;
    out += encode ? url_encode(value) : std::string(value);
    i += name.size();
    return true;
  };
  const char qos[2] = {static_cast<char>('0' + (v.a.qos & 3)), '\0'};
  while (i < text.size()) {
    if (text[i] == '$' &&
        (take("${clientid}", v.s.client_id) || take("${username}", v.s.username.value_or("")) ||
         take("${peerhost}", v.peerhost) || take("${topic}", v.topic) ||
         take("${action}", v.a.type == AclActionType::Publish ? "publish" : "subscribe") ||
         take("${qos}", qos) || take("${retain}", v.a.retain ? "true" : "false") ||
         take("${cert_common_name}", v.s.cert_common_name.value_or("")))) {
      continue;
    }
    out += text[i++];
  }
  return out;
}

}  // namespace

HttpAuthzSource::HttpAuthzSource(const config::AuthzSourceConfig& c, HttpClient client)
    : client_(std::move(client)),
      key_(c.key),
      get_(c.http.method == "get"),
      url_(split_http_url(c.http.url, c.key + ".url")),
      headers_(c.http.headers),
      body_(c.http.body),
      timeout_(c.http.request_timeout) {
  for (auto& [name, value] : headers_) {
    std::string lower;
    for (char ch : name)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == "content-type") {
      content_type_ = value;
      value.clear();
    }
  }
  std::erase_if(headers_, [](const auto& h) { return h.second.empty(); });
}

HttpCall HttpAuthzSource::request(const Subject& subject, const AclAction& action,
                                  std::string_view topic) const {
  const Values v{subject, action, topic, address_text(subject.peer)};
  HttpCall call;
  call.backend = key_;
  call.method = get_ ? "GET" : "POST";
  call.host = url_.host;
  call.port = url_.port;
  call.target = render(url_.target, v, true);
  call.timeout = timeout_;
  for (const auto& [name, value] : headers_)
    call.headers.emplace_back(name, render(value, v, false));
  const bool form = content_type_.starts_with("application/x-www-form-urlencoded");
  if (get_ || form) {
    std::string q;
    for (const auto& [name, value] : body_) {
      if (!q.empty()) q += '&';
      q += url_encode(name) + "=" + render(value, v, true);
    }
    if (get_) {
      if (!q.empty()) call.target += (call.target.find('?') == std::string::npos ? "?" : "&") + q;
    } else {
      call.body = std::move(q);
      call.content_type = content_type_;
    }
  } else {
    boost::json::object o;
    for (const auto& [name, value] : body_)
      o[name] = render(value, v, false);
    call.body = boost::json::serialize(o);
    call.content_type = "application/json";
  }
  return call;
}

std::optional<Permission> HttpAuthzSource::match(const Subject& subject, const AclAction& action,
                                                 std::string_view topic) const {
  HttpAnswer a = client_(request(subject, action, topic));
  if (!a.reached) return trouble("unreachable: " + a.error);
  if (a.status == 204) return Permission::Allow;
  if (a.status != 200) return trouble("answered HTTP " + std::to_string(a.status));
  boost::system::error_code ec;
  auto json = boost::json::parse(a.body, ec);
  if (ec || !json.is_object()) return trouble("answered 200 without a JSON object");
  const auto* result = json.as_object().if_contains("result");
  std::string_view r = result && result->is_string() ? std::string_view(result->as_string()) : "";
  if (r == "allow") return Permission::Allow;
  if (r == "deny") return Permission::Deny;
  if (r == "ignore") return std::nullopt;
  return trouble("answered a result other than allow, deny or ignore");
}

// The server did not decide: the chain goes on (EMQX's ignore), and the operator hears,
// at most every 10 s (a server that is down would otherwise log every PUBLISH).
std::optional<Permission> HttpAuthzSource::trouble(const std::string& what) const {
  static std::atomic<std::int64_t> last_ms{-10'000};
  static std::atomic<std::uint64_t> held{0};
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  auto prev = last_ms.load(std::memory_order_relaxed);
  if (now - prev >= 10'000 && last_ms.compare_exchange_strong(prev, now)) {
    log::get("authz")->warn("{} ({}): {}; the chain goes on (ignore) ({} similar lines suppressed)",
                            key_, url_.origin(), what, held.exchange(0));
  } else {
    held.fetch_add(1, std::memory_order_relaxed);
  }
  return std::nullopt;
}

}  // namespace emqxd::auth
