#include "auth/db/db_client.hpp"

#include <cctype>
#include <charconv>

namespace emqxd::auth::db {

// Each in its own file, with its library's headers (postgres.cpp, mysql.cpp, redis.cpp).
std::unique_ptr<Connection> connect_postgres(const Endpoint& e, Clock::time_point deadline,
                                             std::string& error);
std::unique_ptr<Connection> connect_mysql(const Endpoint& e, Clock::time_point deadline,
                                          std::string& error);
std::unique_ptr<Connection> connect_redis(const Endpoint& e, Clock::time_point deadline,
                                          std::string& error);

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Postgres:
      return "postgresql";
    case Kind::Mysql:
      return "mysql";
    case Kind::Redis:
      return "redis";
  }
  return "?";
}

std::optional<std::pair<std::string, std::uint16_t>> split_server(std::string_view server,
                                                                  std::uint16_t default_port) {
  std::string_view host = server;
  std::string_view port;
  if (server.starts_with('[')) {
    auto close = server.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = server.substr(1, close - 1);
    std::string_view rest = server.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (auto colon = server.rfind(':'); colon != std::string_view::npos) {
    if (server.find(':') != colon) return std::nullopt;  // a bare IPv6 address: use [..]
    host = server.substr(0, colon);
    port = server.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  std::uint16_t p = default_port;
  if (!port.empty() || server.ends_with(':')) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0) return std::nullopt;
  }
  return std::make_pair(std::string(host), p);
}

std::optional<std::vector<std::pair<std::string, std::uint16_t>>> split_servers(
    std::string_view list, std::uint16_t default_port) {
  std::vector<std::pair<std::string, std::uint16_t>> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view one = list.substr(0, comma);
    while (!one.empty() && std::isspace(static_cast<unsigned char>(one.front())))
      one.remove_prefix(1);
    while (!one.empty() && std::isspace(static_cast<unsigned char>(one.back())))
      one.remove_suffix(1);
    auto hp = split_server(one, default_port);
    if (!hp) return std::nullopt;
    out.push_back(std::move(*hp));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::uint16_t redis_slot(std::string_view key) {
  if (auto open = key.find('{'); open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  std::uint16_t crc = 0;  // CRC16/XMODEM: polynomial 0x1021, initial 0
  for (char ch : key) {
    crc ^= static_cast<std::uint16_t>(static_cast<unsigned char>(ch) << 8);
    for (int i = 0; i < 8; ++i)
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<std::uint16_t>(crc << 1);
  }
  return crc & 16383;
}

namespace {

// Calls `text(piece)` for the text between placeholders and `var(name)` for each ${name}.
template <class Text, class Var>
void scan(std::string_view tmpl, Text text, Var var) {
  std::size_t i = 0;
  while (i < tmpl.size()) {
    auto at = tmpl.find("${", i);
    if (at == std::string_view::npos) break;
    auto close = tmpl.find('}', at);
    if (close == std::string_view::npos) break;
    text(tmpl.substr(i, at - i));
    var(tmpl.substr(at + 2, close - at - 2));
    i = close + 1;
  }
  text(tmpl.substr(i));
}

}  // namespace

Statement Statement::compile(Kind kind, std::string_view tmpl) {
  Statement s;
  if (kind == Kind::Redis) {
    std::size_t i = 0;
    while (i < tmpl.size()) {
      while (i < tmpl.size() && std::isspace(static_cast<unsigned char>(tmpl[i])))
        ++i;
      std::size_t start = i;
      while (i < tmpl.size() && !std::isspace(static_cast<unsigned char>(tmpl[i])))
        ++i;
      if (i > start) s.words.emplace_back(tmpl.substr(start, i - start));
    }
    return s;
  }
  scan(
      tmpl, [&](std::string_view piece) { s.text += piece; },
      [&](std::string_view name) {
        s.params.emplace_back(name);
        s.text += kind == Kind::Postgres ? "$" + std::to_string(s.params.size()) : "?";
      });
  return s;
}

Args bind_args(const Statement& s, const Vars& vars) {
  auto value = [&](std::string_view name) -> std::string {
    auto it = vars.find(name);
    return it == vars.end() ? std::string() : it->second;
  };
  Args out;
  if (!s.words.empty()) {
    for (const auto& w : s.words) {
      std::string arg;
      scan(
          w, [&](std::string_view piece) { arg += piece; },
          [&](std::string_view name) { arg += value(name); });
      out.push_back(std::move(arg));
    }
    return out;
  }
  for (const auto& p : s.params)
    out.push_back(value(p));
  return out;
}

int Rows::column(std::string_view name) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const auto& c = columns[i];
    if (c.size() != name.size()) continue;
    bool same = true;
    for (std::size_t j = 0; j < c.size() && same; ++j) {
      same = std::tolower(static_cast<unsigned char>(c[j])) ==
             std::tolower(static_cast<unsigned char>(name[j]));
    }
    if (same) return static_cast<int>(i);
  }
  return -1;
}

std::unique_ptr<Connection> connect(const Endpoint& e, Clock::time_point deadline,
                                    std::string& error) {
  switch (e.kind) {
    case Kind::Postgres:
      return connect_postgres(e, deadline, error);
    case Kind::Mysql:
      return connect_mysql(e, deadline, error);
    case Kind::Redis:
      return connect_redis(e, deadline, error);
  }
  error = "unknown database kind";
  return nullptr;
}

// ----------------------------------------------------------------------------- Pool

Pool::Pool(Endpoint e, std::size_t size, std::chrono::milliseconds timeout)
    : endpoint_(std::move(e)), timeout_(timeout), size_(size == 0 ? 1 : size) {}

Pool::~Pool() = default;

Reply Pool::query(const Statement& s, const Args& args) {
  const auto deadline = Clock::now() + timeout_;
  std::unique_ptr<Connection> conn;
  {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_until(lock, deadline, [this] { return !idle_.empty() || out_ < size_; })) {
      return {false,
              "timed out waiting for one of the pool's " + std::to_string(size_) + " connections",
              {}};
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
    ++out_;
  }
  Reply r;
  // A connection that sat idle may have been closed by the server meanwhile (a restart):
  // then one more try on a new connection, while time remains.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = conn != nullptr;
    if (!conn) {
      std::string error;
      conn = connect(endpoint_, deadline, error);
      if (!conn) {
        r = {false, "cannot connect: " + error, {}};
        break;
      }
    }
    r = conn->run(s, args, deadline);
    if (!conn->broken()) break;
    conn.reset();
    if (!reused || Clock::now() >= deadline) break;
  }
  {
    std::lock_guard lock(mutex_);
    --out_;
    if (conn) idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
  return r;
}

}  // namespace emqxd::auth::db
