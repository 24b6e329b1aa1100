#include "connectors/http.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>

#include "rules/template.hpp"

namespace emqxd::connectors {

namespace json = boost::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

struct Header {
  std::string name;
  rules::Template value;
};

class HttpSender final : public Sender {
 public:
  HttpSender(const config::ConnectorConfig& c, const config::ActionConfig& a, HttpSend send)
      : url_(auth::split_http_url(c.url, "connectors.http." + c.name)),
        method_(a.method),
        path_(rules::Template::checked(a.path)),
        has_body_(a.body.has_value()),
        body_(rules::Template::checked(a.body.value_or(""))),
        max_retries_(a.max_retries),
        send_(std::move(send)),
        backend_("connectors.http." + c.name) {
    std::transform(method_.begin(), method_.end(), method_.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    // The connector's headers, then the action's over them (EMQX: same name, action wins).
    for (const auto& [k, v] : c.headers)
      headers_.push_back({k, rules::Template::checked(v)});
    for (const auto& kv : a.headers) {
      // (No structured binding here: clang 14 cannot capture one in a lambda.)
      const std::string name = lower(kv.first);
      std::erase_if(headers_, [&name](const Header& h) { return lower(h.name) == name; });
      headers_.push_back({kv.first, rules::Template::checked(kv.second)});
    }
  }

  SendResult send(const std::vector<json::object>& batch,
                  std::chrono::milliseconds timeout) override {
    for (const auto& out : batch) {
      auto r = send_one(out, timeout);
      if (r.kind != SendResult::Ok) return r;
    }
    return SendResult::ok();
  }

 private:
  SendResult send_one(const json::object& out, std::chrono::milliseconds timeout) {
    auth::HttpCall call;
    call.backend = backend_;
    call.method = method_;
    call.host = url_.host;
    call.port = url_.port;
    call.target = safe_target(join(url_.target, path_.render(out)));
    call.timeout = timeout;
    for (const auto& h : headers_) {
      std::string v = h.value.render(out);
      v.erase(std::remove_if(v.begin(), v.end(), [](char ch) { return ch == '\r' || ch == '\n'; }),
              v.end());
      if (lower(h.name) == "content-type") {
        call.content_type = v;
      } else {
        call.headers.emplace_back(h.name, std::move(v));
      }
    }
    if (method_ != "GET" && method_ != "DELETE") {
      call.body = has_body_ ? body_.render(out) : json::serialize(out);
    }
    auth::HttpAnswer a;
    for (std::uint32_t attempt = 0;; ++attempt) {
      a = send_(call);
      if (a.reached || attempt >= max_retries_) break;
    }
    // The origin only: a path or query may carry a token, never logged.
    if (!a.reached) return SendResult::retry("no answer from " + url_.origin() + ": " + a.error);
    if (a.status >= 200 && a.status < 300) return SendResult::ok();
    const std::string what = "HTTP " + std::to_string(a.status) + " from " + url_.origin();
    if (a.status == 429 || a.status == 503) return SendResult::retry(what);
    return SendResult::fail(what);
  }

  // A rendered path holds what clients chose (client ids, topics): every byte outside
  // visible ASCII is %-encoded, so that none ends the request line or adds a header.
  static std::string safe_target(const std::string& t) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(t.size());
    for (unsigned char ch : t) {
      if (ch > 0x20 && ch < 0x7f) {
        out += static_cast<char>(ch);
      } else {
        out += '%';
        out += kHex[ch >> 4];
        out += kHex[ch & 15];
      }
    }
    return out;
  }

  // EMQX's emqx_utils_uri:join_path: the base path and the action's, one '/' between;
  // a path starting with '?' is a query, appended as it is.
  static std::string join(const std::string& base, const std::string& path) {
    if (path.empty()) return base.empty() ? "/" : base;
    if (path.front() == '?') return (base.empty() ? "/" : base) + path;
    std::string b = base.empty() ? "/" : base;
    if (b.back() == '/' && path.front() == '/') return b + path.substr(1);
    if (b.back() != '/' && path.front() != '/') return b + "/" + path;
    return b + path;
  }

  const auth::HttpUrl url_;
  std::string method_;
  rules::Template path_;
  bool has_body_;
  rules::Template body_;
  std::vector<Header> headers_;
  std::uint32_t max_retries_;
  HttpSend send_;
  std::string backend_;
};

}  // namespace

bool tcp_reachable(const std::string& host, const std::string& port,
                   std::chrono::milliseconds timeout, std::string& reason) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    reason = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return false;
  }
  bool ok = false;
  for (addrinfo* ai = res; ai != nullptr && !ok; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        ok = true;
      } else {
        reason =
            "cannot connect to " + host + ":" + port + ": " +
            (rc == 0 ? std::string("timed out") : std::string(std::strerror(err ? err : errno)));
      }
    } else {
      reason = "cannot connect to " + host + ":" + port + ": " + std::strerror(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return ok;
}

namespace {

class HttpConnector final : public Connector {
 public:
  HttpConnector(config::ConnectorConfig c, HttpSend send)
      : c_(std::move(c)),
        url_(auth::split_http_url(c_.url, "connectors.http." + c_.name)),
        send_(std::move(send)) {}
  Status health_check(std::chrono::milliseconds timeout, std::string& reason) override {
    return tcp_reachable(url_.host, url_.port, timeout, reason) ? Status::Connected
                                                                : Status::Disconnected;
  }
  SenderFactory senders(const config::ActionConfig& a) override {
    return [c = c_, a, send = send_]() -> std::unique_ptr<Sender> {
      return std::make_unique<HttpSender>(c, a, send);
    };
  }

 private:
  const config::ConnectorConfig c_;
  const auth::HttpUrl url_;
  const HttpSend send_;
};

}  // namespace

std::unique_ptr<Connector> make_http_connector(const config::ConnectorConfig& c, HttpSend send) {
  return std::make_unique<HttpConnector>(c, std::move(send));
}

}  // namespace emqxd::connectors
