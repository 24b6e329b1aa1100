// PostgreSQL over libpq's asynchronous API, driven by poll(2) so that connecting and every
// query end at the caller's deadline (libpq's own connect_timeout counts whole seconds and
// its synchronous calls have no timeout at all).
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "auth/db/db_client.hpp"

namespace emqxd::auth::db {
namespace {

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq see the error
  }
}

std::string pq_error(PGconn* c) {
  std::string e = PQerrorMessage(c);
  while (!e.empty() && (e.back() == '\n' || e.back() == ' '))
    e.pop_back();
  return e;
}

class PgConnection final : public Connection {
 public:
  explicit PgConnection(PGconn* c) : c_(c) {}
  ~PgConnection() override { PQfinish(c_); }

  bool broken() const override { return broken_ || PQstatus(c_) != CONNECTION_OK; }

  Reply run(const Statement& s, const Args& args, Clock::time_point deadline) override {
    std::vector<const char*> values;
    values.reserve(args.size());
    for (const auto& a : args)
      values.push_back(a ? a->c_str() : nullptr);
    if (PQsendQueryParams(c_, s.text.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0) == 0) {
      broken_ = true;
      return {false, pq_error(c_), {}};
    }
    while (PQflush(c_) == 1) {
      if (!wait_fd(PQsocket(c_), POLLOUT, deadline)) return timed_out();
    }
    Reply r;
    r.ok = true;
    bool have = false;
    for (;;) {
      while (PQisBusy(c_)) {
        if (!wait_fd(PQsocket(c_), POLLIN, deadline)) return timed_out();
        if (PQconsumeInput(c_) == 0) {
          broken_ = true;
          return {false, pq_error(c_), {}};
        }
      }
      PGresult* res = PQgetResult(c_);
      if (res == nullptr) break;
      const auto st = PQresultStatus(res);
      if (st == PGRES_TUPLES_OK && !have) {
        have = true;
        const int cols = PQnfields(res);
        for (int j = 0; j < cols; ++j)
          r.rows.columns.emplace_back(PQfname(res, j));
        for (int i = 0; i < PQntuples(res); ++i) {
          auto& row = r.rows.rows.emplace_back();
          for (int j = 0; j < cols; ++j) {
            if (PQgetisnull(res, i, j)) {
              row.emplace_back(std::nullopt);
            } else {
              row.emplace_back(std::string(PQgetvalue(res, i, j),
                                           static_cast<std::size_t>(PQgetlength(res, i, j))));
            }
          }
        }
      } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && r.ok) {
        r.ok = false;
        r.server_error = true;
        r.error = PQresultErrorMessage(res);
        while (!r.error.empty() && r.error.back() == '\n')
          r.error.pop_back();
      }
      PQclear(res);
    }
    if (!r.ok) r.rows = {};
    return r;
  }

 private:
  Reply timed_out() {
    broken_ = true;  // the answer may still come: this connection is not reused
    return {false, "query timed out", {}};
  }

  PGconn* c_;
  bool broken_ = false;
};

}  // namespace

std::unique_ptr<Connection> connect_postgres(const Endpoint& e, Clock::time_point deadline,
                                             std::string& error) {
  const std::string port = std::to_string(e.port);
  // Without ssl.enable, sslmode=disable, so that libpq does not try TLS on its own; with
  // it, require (encrypted, unverified: verify_none), verify-ca or verify-full (the name
  // too). No .pgpass or service file is read for a password.
  const char* sslmode = !e.tls              ? "disable"
                        : !e.tls->verify    ? "require"
                        : e.tls->check_name ? "verify-full"
                                            : "verify-ca";
  std::vector<const char*> keys = {
      "host", "port", "dbname", "sslmode", "application_name", "client_encoding", "passfile"};
  std::vector<const char*> values = {e.host.c_str(), port.c_str(), e.database.c_str(), sslmode,
                                     "emqxd",        "UTF8",       "/dev/null"};
  if (e.tls) {
    // libpq 15 reads ~/.postgresql/root.crt when sslrootcert is not set: verify_peer uses
    // cacertfile or the system's CAs instead (EMQX's cacertfile-less verify_peer), and
    // verify_none a file that does not exist, since sslmode=require with a root file
    // present checks the chain anyway (libpq's documented legacy behaviour).
    keys.push_back("sslrootcert");
    values.push_back(!e.tls->verify               ? "/nonexistent/emqxd-verify-none"
                     : !e.tls->cacertfile.empty() ? e.tls->cacertfile.c_str()
                                                  : "/etc/ssl/certs/ca-certificates.crt");
    if (!e.tls->certfile.empty()) {
      keys.push_back("sslcert");
      values.push_back(e.tls->certfile.c_str());
      keys.push_back("sslkey");
      values.push_back(e.tls->keyfile.c_str());
    }
    // The lowest version allowed; libpq has no client cipher list (the server's decides).
    const auto& v = e.tls->versions;
    keys.push_back("ssl_min_protocol_version");
    values.push_back(std::find(v.begin(), v.end(), "tlsv1.2") != v.end() ? "TLSv1.2" : "TLSv1.3");
  }
  if (!e.username.empty()) {
    keys.push_back("user");
    values.push_back(e.username.c_str());
  }
  if (!e.password.empty()) {
    keys.push_back("password");
    values.push_back(e.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectStartParams(keys.data(), values.data(), 0);
  if (c == nullptr) {
    error = "out of memory";
    return nullptr;
  }
  auto fail = [&](std::string why) -> std::unique_ptr<Connection> {
    error = std::move(why);
    PQfinish(c);
    return nullptr;
  };
  if (PQstatus(c) == CONNECTION_BAD) return fail(pq_error(c));
  auto st = PGRES_POLLING_WRITING;
  for (;;) {
    if (st == PGRES_POLLING_OK) break;
    if (st == PGRES_POLLING_FAILED) return fail(pq_error(c));
    const short events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!wait_fd(PQsocket(c), events, deadline)) return fail("connect timed out");
    st = PQconnectPoll(c);
  }
  if (PQsetnonblocking(c, 1) != 0) return fail(pq_error(c));
  return std::make_unique<PgConnection>(c);
}

}  // namespace emqxd::auth::db
