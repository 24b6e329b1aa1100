#include "auth/http_backend.hpp"

#include <stdexcept>

namespace emqxd::auth {

std::string HttpUrl::origin() const {
  return std::string(tls ? "https://" : "http://") +
         (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

HttpUrl split_http_url(const std::string& url, const std::string& key) {
  HttpUrl u;
  u.tls = url.starts_with("https://");
  std::string_view rest = std::string_view(url).substr(u.tls ? 8 : 7);
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.back() != ']') {
    u.host = std::string(authority.substr(0, colon));
    u.port = std::string(authority.substr(colon + 1));
  } else {
    u.host = std::string(authority);
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.size() > 2 && u.host.front() == '[' && u.host.back() == ']') {
    u.host = u.host.substr(1, u.host.size() - 2);
  }
  if (u.host.empty()) throw std::runtime_error(key + ": no host in " + url);
  return u;
}

std::string url_encode(std::string_view v) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : v) {
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

std::vector<HttpBackend> http_backends(const config::Config& cfg) {
  std::vector<HttpBackend> out;
  for (const auto& a : cfg.authentication) {
    if (!a.enable) continue;
    const bool http = a.mechanism == "password_based" && a.backend == "http";
    const bool jwks = a.mechanism == "jwt" && a.use_jwks;
    if (!http && !jwks) continue;
    out.push_back({a.key, split_http_url(http ? a.url : a.endpoint, a.key), a.ssl, a.pool_size,
                   a.connect_timeout});
  }
  for (const auto& s : cfg.authorization.sources) {
    if (!s.enable || s.type != "http") continue;
    out.push_back({s.key, split_http_url(s.http.url, s.key + ".url"), s.http.ssl, s.http.pool_size,
                   s.http.connect_timeout});
  }
  return out;
}

}  // namespace emqxd::auth
