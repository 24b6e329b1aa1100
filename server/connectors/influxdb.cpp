// The influxdb connector and action (influxdb.hpp).
#include "connectors/influxdb.hpp"

#include <string>

#include "auth/base64.hpp"
#include "auth/http_backend.hpp"
#include "rules/line_protocol.hpp"

namespace emqxd::connectors {

namespace json = boost::json;

namespace {

// What one request needs: where, and with which credentials.
struct Endpoint {
  auth::HttpUrl url;
  config::InfluxConfig x;
  std::string backend;

  auth::HttpCall call(std::string method, std::string target,
                      std::chrono::milliseconds timeout) const {
    auth::HttpCall q;
    q.backend = backend;
    q.method = std::move(method);
    q.host = url.host;
    q.port = url.port;
    q.target = std::move(target);
    q.timeout = timeout;
    if (x.v2) {
      q.headers.emplace_back("Authorization", "Token " + x.token);
    } else if (!x.username.empty()) {
      q.headers.emplace_back("Authorization",
                             "Basic " + auth::base64(x.username + ":" + x.password));
    }
    return q;
  }
};

// The body of an error answer, shortened: InfluxDB says there what it refused
// ({"error":"partial write: field type conflict ..."}). Never a credential.
std::string said(const auth::HttpAnswer& a) {
  std::string b = a.body.substr(0, 300);
  for (auto& ch : b) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return b.empty() ? "" : ": " + b;
}

class InfluxSender final : public Sender {
 public:
  InfluxSender(Endpoint e, const config::ActionConfig& a, HttpSend send)
      : e_(std::move(e)), send_(std::move(send)) {
    std::string error;
    lp_ = *rules::LineProtocol::parse(a.write_syntax, error);  // the config checked it
    precision_ = rules::precision_from(a.precision).value_or(rules::Precision::Ms);
    const std::string& p = a.precision;
    if (e_.x.v2) {
      target_ = "/api/v2/write?org=" + auth::url_encode(e_.x.org) +
                "&bucket=" + auth::url_encode(e_.x.bucket) + "&precision=" + p;
    } else {
      // v1's names: n and u for ns and us.
      target_ = "/write?db=" + auth::url_encode(e_.x.database) + "&precision=" +
                (p == "ns"   ? "n"
                 : p == "us" ? "u"
                             : p);
    }
  }

  SendResult send(const std::vector<json::object>& batch,
                  std::chrono::milliseconds timeout) override {
    std::string body;
    std::string error;
    for (const auto& out : batch) {
      if (!lp_.render(out, precision_, body, error)) {
        return SendResult::fail("a point cannot be written: " + error);
      }
    }
    auto q = e_.call("POST", target_, timeout);
    q.content_type = "text/plain; charset=utf-8";
    q.body = std::move(body);
    const auto a = send_(q);
    if (!a.reached) return SendResult::retry("no answer from " + e_.url.origin() + ": " + a.error);
    if (a.status >= 200 && a.status < 300) return SendResult::ok();
    const std::string what = "HTTP " + std::to_string(a.status) + " from " + e_.url.origin();
    if (a.status == 401 || a.status == 403)
      return SendResult::fail(what + ": authorization failure");
    if (a.status == 429 || a.status >= 500) return SendResult::retry(what + said(a));
    return SendResult::fail(what + said(a));
  }

 private:
  Endpoint e_;
  HttpSend send_;
  rules::LineProtocol lp_;
  rules::Precision precision_ = rules::Precision::Ms;
  std::string target_;
};

class InfluxConnector final : public Connector {
 public:
  InfluxConnector(const config::ConnectorConfig& c, HttpSend send)
      : e_{auth::split_http_url(c.url, "connectors.influxdb." + c.name), c.influx,
           "connectors.influxdb." + c.name},
        send_(std::move(send)) {}

  Status health_check(std::chrono::milliseconds timeout, std::string& reason) override {
    auto a = send_(e_.call("GET", "/ping", timeout));
    if (!a.reached) {
      reason = "no answer from " + e_.url.origin() + ": " + a.error;
      return Status::Disconnected;
    }
    if (a.status < 200 || a.status >= 300) {
      reason = "GET /ping: HTTP " + std::to_string(a.status) + " from " + e_.url.origin();
      return Status::Disconnected;
    }
    // The credentials, where there are some to check.
    std::string target;
    if (e_.x.v2) {
      target = "/api/v2/buckets?name=" + auth::url_encode(e_.x.bucket) +
               "&org=" + auth::url_encode(e_.x.org);
    } else if (!e_.x.username.empty()) {
      target = "/query?q=SHOW%20DATABASES";
    } else {
      return Status::Connected;
    }
    a = send_(e_.call("GET", target, timeout));
    if (!a.reached) {
      reason = "no answer from " + e_.url.origin() + ": " + a.error;
      return Status::Disconnected;
    }
    if (a.status == 401 || a.status == 403) {
      reason = "authorization failure (HTTP " + std::to_string(a.status) + ")";
      return Status::Disconnected;
    }
    return Status::Connected;
  }

  SenderFactory senders(const config::ActionConfig& a) override {
    return [e = e_, a, send = send_]() -> std::unique_ptr<Sender> {
      return std::make_unique<InfluxSender>(e, a, send);
    };
  }

 private:
  const Endpoint e_;
  const HttpSend send_;
};

}  // namespace

std::unique_ptr<Connector> make_influx_connector(const config::ConnectorConfig& c, HttpSend send) {
  return std::make_unique<InfluxConnector>(c, std::move(send));
}

}  // namespace emqxd::connectors
