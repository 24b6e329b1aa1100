// MySQL and MariaDB over MariaDB Connector/C, with prepared statements: the template's
// placeholders become `?` and their values are bound, never spliced into the SQL.
//
// Timeouts: Connector/C takes connect, read and write timeouts in whole seconds, fixed
// when the connection is made; each is set to what is left of the first caller's
// deadline, rounded up (at least 1 s). A query on a server that stops answering thus ends
// within about query_timeout (rounded up to a second), and its connection is dropped.
#include <mysql.h>

#include <cmath>

#include "auth/db/db_client.hpp"

namespace emqxd::auth::db {
namespace {

// Client-side errors (CR_*: 2000..2999) mean the connection is unusable: lost, timed
// out, out of sync. Server errors (a syntax error, an unknown table) leave it usable.
bool client_error(unsigned int code) {
  return code >= 2000 && code < 3000;
}

class MysqlConnection final : public Connection {
 public:
  explicit MysqlConnection(MYSQL* m) : m_(m) {}
  ~MysqlConnection() override {
    for (auto& [text, st] : statements_)
      mysql_stmt_close(st);
    mysql_close(m_);
  }

  bool broken() const override { return broken_; }

  Reply run(const Statement& s, const Args& args,
            Clock::time_point /*deadline: the connection's read timeout*/) override {
    MYSQL_STMT* st = prepared(s.text);
    if (st == nullptr) return fail_conn();
    if (mysql_stmt_param_count(st) != args.size()) {
      return Reply::refused("the query has " + std::to_string(mysql_stmt_param_count(st)) +
                            " parameters, the template " + std::to_string(args.size()));
    }
    std::vector<MYSQL_BIND> params(args.size());
    std::vector<unsigned long> lengths(args.size());
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (!args[i]) {
        params[i].buffer_type = MYSQL_TYPE_NULL;
        continue;
      }
      lengths[i] = args[i]->size();
      params[i].buffer_type = MYSQL_TYPE_STRING;
      params[i].buffer = const_cast<char*>(args[i]->data());
      params[i].buffer_length = args[i]->size();
      params[i].length = &lengths[i];
    }
    if (!params.empty() && mysql_stmt_bind_param(st, params.data()) != 0) return fail_stmt(st);
    if (mysql_stmt_execute(st) != 0) return fail_stmt(st);
    Reply r;
    r.ok = true;
    MYSQL_RES* meta = mysql_stmt_result_metadata(st);
    if (meta == nullptr) {  // no result set (an UPDATE): no rows
      if (mysql_stmt_errno(st) != 0) return fail_stmt(st);
      return r;
    }
    if (mysql_stmt_store_result(st) != 0) {
      mysql_free_result(meta);
      return fail_stmt(st);
    }
    const unsigned int n = mysql_num_fields(meta);
    MYSQL_FIELD* fields = mysql_fetch_fields(meta);
    std::vector<MYSQL_BIND> out(n);
    std::vector<std::string> buffers(n);
    std::vector<unsigned long> lens(n);
    std::vector<my_bool> nulls(n);
    for (unsigned int j = 0; j < n; ++j) {
      r.rows.columns.emplace_back(fields[j].name);
      buffers[j].resize(std::max<unsigned long>(fields[j].max_length, 64) + 1);
      out[j].buffer_type = MYSQL_TYPE_STRING;
      out[j].buffer = buffers[j].data();
      out[j].buffer_length = buffers[j].size();
      out[j].length = &lens[j];
      out[j].is_null = &nulls[j];
    }
    mysql_free_result(meta);
    if (mysql_stmt_bind_result(st, out.data()) != 0) return fail_stmt(st);
    for (;;) {
      int f = mysql_stmt_fetch(st);
      if (f == MYSQL_NO_DATA) break;
      if (f == 1) {
        mysql_stmt_free_result(st);
        return fail_stmt(st);
      }
      auto& row = r.rows.rows.emplace_back();
      for (unsigned int j = 0; j < n; ++j) {
        if (nulls[j]) {
          row.emplace_back(std::nullopt);
        } else if (lens[j] <= buffers[j].size()) {
          row.emplace_back(std::string(buffers[j].data(), lens[j]));
        } else {  // MYSQL_DATA_TRUNCATED: fetch the whole value
          std::string whole(lens[j], '\0');
          MYSQL_BIND b{};
          unsigned long len = 0;
          b.buffer_type = MYSQL_TYPE_STRING;
          b.buffer = whole.data();
          b.buffer_length = whole.size();
          b.length = &len;
          if (mysql_stmt_fetch_column(st, &b, j, 0) != 0) {
            mysql_stmt_free_result(st);
            return fail_stmt(st);
          }
          row.emplace_back(std::move(whole));
        }
      }
    }
    mysql_stmt_free_result(st);
    return r;
  }

 private:
  MYSQL_STMT* prepared(const std::string& text) {
    if (auto it = statements_.find(text); it != statements_.end()) return it->second;
    MYSQL_STMT* st = mysql_stmt_init(m_);
    if (st == nullptr) return nullptr;
    if (mysql_stmt_prepare(st, text.data(), text.size()) != 0) {
      prepare_error_ = mysql_stmt_error(st);
      prepare_errno_ = mysql_stmt_errno(st);
      mysql_stmt_close(st);
      return nullptr;
    }
    statements_.emplace(text, st);
    return st;
  }
  Reply fail_conn() {
    if (prepare_errno_ == 0 || client_error(prepare_errno_)) broken_ = true;
    Reply r{false, prepare_error_.empty() ? std::string(mysql_error(m_)) : prepare_error_, {}};
    r.server_error = prepare_errno_ != 0 && !client_error(prepare_errno_);
    prepare_error_.clear();
    prepare_errno_ = 0;
    return r;
  }
  Reply fail_stmt(MYSQL_STMT* st) {
    Reply r{false, mysql_stmt_error(st), {}};
    if (client_error(mysql_stmt_errno(st))) {
      broken_ = true;
    } else {
      r.server_error = true;
    }
    return r;
  }

  MYSQL* m_;
  bool broken_ = false;
  std::map<std::string, MYSQL_STMT*> statements_;
  std::string prepare_error_;
  unsigned int prepare_errno_ = 0;
};

}  // namespace

std::unique_ptr<Connection> connect_mysql(const Endpoint& e, Clock::time_point deadline,
                                          std::string& error) {
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) {
    error = "out of memory";
    return nullptr;
  }
  const double left_s = std::chrono::duration<double>(deadline - Clock::now()).count();
  unsigned int secs = static_cast<unsigned int>(std::max(1.0, std::ceil(left_s)));
  unsigned int protocol = MYSQL_PROTOCOL_TCP;  // "localhost" would mean a Unix socket
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &secs);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &secs);
  mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  std::string versions, ciphers;
  if (const auto& t = e.tls) {
    // TLS or no connection; verify_peer checks the chain and (MariaDB Connector/C does
    // both at once) the server's name.
    my_bool yes = 1, verify = t->verify ? 1 : 0;
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes);
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    // A CA makes Connector/C verify whatever VERIFY_SERVER_CERT says: only with verify_peer.
    if (t->verify && !t->cacertfile.empty())
      mysql_optionsv(m, MYSQL_OPT_SSL_CA, t->cacertfile.c_str());
    if (t->verify && t->cacertfile.empty())
      mysql_optionsv(m, MYSQL_OPT_SSL_CAPATH, "/etc/ssl/certs");  // the system's CAs
    if (!t->certfile.empty()) {
      mysql_optionsv(m, MYSQL_OPT_SSL_CERT, t->certfile.c_str());
      mysql_optionsv(m, MYSQL_OPT_SSL_KEY, t->keyfile.c_str());
    }
    for (const auto& v : t->versions)
      versions +=
          (versions.empty() ? "" : ",") + std::string(v == "tlsv1.3" ? "TLSv1.3" : "TLSv1.2");
    mysql_optionsv(m, MARIADB_OPT_TLS_VERSION, versions.c_str());
    for (const auto& c : t->ciphers)
      ciphers += (ciphers.empty() ? "" : ":") + c;
    if (!ciphers.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_CIPHER, ciphers.c_str());
  }
  if (mysql_real_connect(m, e.host.c_str(), e.username.empty() ? nullptr : e.username.c_str(),
                         e.password.c_str(), e.database.empty() ? nullptr : e.database.c_str(),
                         e.port, nullptr, 0) == nullptr) {
    error = mysql_error(m);
    mysql_close(m);
    return nullptr;
  }
  return std::make_unique<MysqlConnection>(m);
}

}  // namespace emqxd::auth::db
