#include "connectors/database.hpp"

#include <cctype>
#include <map>
#include <stdexcept>

#include "auth/db/db_auth.hpp"
#include "rules/template.hpp"

namespace emqxd::connectors {

namespace db = auth::db;

namespace {

db::Kind kind_of(const std::string& type) {
  if (type == "pgsql") return db::Kind::Postgres;
  if (type == "mysql") return db::Kind::Mysql;
  return db::Kind::Redis;
}

db::Endpoint endpoint_of(const config::ConnectorConfig& c) {
  return db::endpoint_of(c.db, kind_of(c.type), "connectors." + c.type + "." + c.name);
}

// A placeholder's name ("payload.a.b") as a path into the rule's output.
std::vector<std::string> path_of(std::string_view name) {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (;;) {
    const auto dot = name.find('.', i);
    out.emplace_back(name.substr(i, dot == std::string_view::npos ? dot : dot - i));
    if (dot == std::string_view::npos) break;
    i = dot + 1;
  }
  if (out.size() == 1 && out[0].empty()) out.clear();  // "${.}": the whole output
  return out;
}

// One parameter's value: SQL NULL where the output has nothing (or a JSON null).
std::optional<std::string> param_value(const boost::json::object& output,
                                       const std::vector<std::string>& path) {
  if (path.empty()) return rules::to_text(rules::Value(boost::json::value(output)));
  rules::Value v = rules::lookup(output, path);
  if (!v || v->is_null()) return std::nullopt;
  return rules::to_text(v);
}

// An SQL template, compiled for 1..n rows.
class SqlStatement {
 public:
  SqlStatement(db::Kind kind, std::string sql) : kind_(kind), sql_(std::move(sql)) {
    shape_ = insert_shape(sql_);
  }

  // The statement for `rows` rows of `batch` starting at `first`, and its arguments.
  // Without an INSERT shape, rows must be 1.
  const db::Statement& statement(std::size_t rows) {
    auto it = compiled_.find(rows);
    if (it != compiled_.end()) return it->second.statement;
    std::string text;
    if (rows == 1 || !shape_) {
      text = sql_;
    } else {
      text = shape_->head + " " + shape_->row;
      for (std::size_t i = 1; i < rows; ++i)
        text += ", " + shape_->row;
      text += shape_->tail;
    }
    Compiled c;
    c.statement = db::Statement::compile(kind_, text);
    for (const auto& p : c.statement.params)
      c.paths.push_back(path_of(p));
    // Bounded: one per batch size seen, at most batch_size of them.
    return compiled_.emplace(rows, std::move(c)).first->second.statement;
  }

  db::Args args(std::size_t rows, const std::vector<boost::json::object>& batch,
                std::size_t first) {
    const auto& c = compiled_.at(rows);
    db::Args out;
    out.reserve(c.paths.size());
    const std::size_t per_row = c.paths.size() / rows;
    for (std::size_t i = 0; i < c.paths.size(); ++i)
      out.push_back(param_value(batch[first + i / per_row], c.paths[i]));
    return out;
  }

  bool batches() const { return shape_.has_value(); }

 private:
  struct Compiled {
    db::Statement statement;
    std::vector<std::vector<std::string>> paths;
  };
  const db::Kind kind_;
  const std::string sql_;
  std::optional<InsertShape> shape_;
  std::map<std::size_t, Compiled> compiled_;
};

SendResult outcome(const db::Reply& r) {
  if (r.ok) return SendResult::ok();
  if (r.server_error) return SendResult::fail(r.error);
  return SendResult::retry(r.error);
}

class SqlSender final : public Sender {
 public:
  SqlSender(std::shared_ptr<db::Pool> pool, db::Kind kind, const std::string& sql)
      : pool_(std::move(pool)), sql_(kind, sql) {}

  SendResult send(const std::vector<boost::json::object>& batch,
                  std::chrono::milliseconds /*timeout: the pool's*/) override {
    if (batch.empty()) return SendResult::ok();
    if (sql_.batches() || batch.size() == 1) {
      const auto& st = sql_.statement(batch.size());
      return outcome(pool_->query(st, sql_.args(batch.size(), batch, 0)));
    }
    // One statement per message: a retry sends the whole batch again (at least once).
    const auto& st = sql_.statement(1);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto r = outcome(pool_->query(st, sql_.args(1, batch, i)));
      if (r.kind != SendResult::Ok) return r;
    }
    return SendResult::ok();
  }

 private:
  std::shared_ptr<db::Pool> pool_;
  SqlStatement sql_;
};

class RedisSender final : public Sender {
 public:
  RedisSender(std::shared_ptr<db::Pool> pool, const std::vector<std::string>& command)
      : pool_(std::move(pool)) {
    for (const auto& word : command) {
      std::string err;
      auto t = rules::Template::parse(word, err);
      words_.push_back(t ? std::move(*t) : rules::Template{});  // the config checked them
    }
  }

  SendResult send(const std::vector<boost::json::object>& batch,
                  std::chrono::milliseconds /*timeout: the pool's*/) override {
    for (const auto& output : batch) {
      db::Args argv;
      argv.reserve(words_.size());
      for (const auto& w : words_)
        argv.push_back(w.render(output));
      auto r = outcome(pool_->query(statement_, argv));
      if (r.kind != SendResult::Ok) return r;
    }
    return SendResult::ok();
  }

 private:
  std::shared_ptr<db::Pool> pool_;
  std::vector<rules::Template> words_;
  db::Statement statement_;  // Redis sends the arguments; the statement is unused
};

class DbConnector final : public Connector {
 public:
  explicit DbConnector(const config::ConnectorConfig& c)
      : type_(c.type),
        kind_(kind_of(c.type)),
        pool_(std::make_shared<db::Pool>(endpoint_of(c), c.db.pool_size, c.connect_timeout)) {
    if (kind_ == db::Kind::Redis) {
      probe_.words = {"PING"};
    } else {
      probe_ = db::Statement::compile(kind_, "SELECT 1");
    }
  }

  Status health_check(std::chrono::milliseconds /*timeout: the pool's*/,
                      std::string& reason) override {
    db::Args args;
    if (kind_ == db::Kind::Redis) args.emplace_back("PING");
    auto r = pool_->query(probe_, args);
    if (r.ok) return Status::Connected;
    reason = r.error;
    return Status::Disconnected;
  }

  SenderFactory senders(const config::ActionConfig& a) override {
    if (kind_ == db::Kind::Redis) {
      if (a.command_template.empty())
        throw std::runtime_error("parameters.command_template: required");
      return [pool = pool_, cmd = a.command_template]() -> std::unique_ptr<Sender> {
        return std::make_unique<RedisSender>(pool, cmd);
      };
    }
    if (a.sql.empty()) throw std::runtime_error("parameters.sql: required");
    return [pool = pool_, kind = kind_, sql = a.sql]() -> std::unique_ptr<Sender> {
      return std::make_unique<SqlSender>(pool, kind, sql);
    };
  }

 private:
  const std::string type_;
  const db::Kind kind_;
  std::shared_ptr<db::Pool> pool_;
  db::Statement probe_;
};

bool is_space(char ch) {
  return std::isspace(static_cast<unsigned char>(ch)) != 0;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

std::optional<InsertShape> insert_shape(std::string_view sql) {
  std::size_t i = 0;
  while (i < sql.size() && is_space(sql[i]))
    ++i;
  if (!iequal(sql.substr(i, 6), "insert") || i + 6 >= sql.size() || !is_space(sql[i + 6]))
    return std::nullopt;
  // The VALUES keyword outside quotes, then its first row.
  char quote = 0;
  std::size_t values = std::string_view::npos;
  for (std::size_t j = i; j + 6 <= sql.size(); ++j) {
    const char ch = sql[j];
    if (quote != 0) {
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '\'' || ch == '"' || ch == '`') {
      quote = ch;
      continue;
    }
    if (iequal(sql.substr(j, 6), "values") && j > 0 &&
        (is_space(sql[j - 1]) || sql[j - 1] == ')') &&
        (j + 6 == sql.size() || is_space(sql[j + 6]) || sql[j + 6] == '(')) {
      values = j;
      break;
    }
  }
  if (values == std::string_view::npos) return std::nullopt;
  std::size_t open = values + 6;
  while (open < sql.size() && is_space(sql[open]))
    ++open;
  if (open >= sql.size() || sql[open] != '(') return std::nullopt;
  int depth = 0;
  quote = 0;
  std::size_t close = std::string_view::npos;
  for (std::size_t j = open; j < sql.size(); ++j) {
    const char ch = sql[j];
    if (quote != 0) {
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '\'' || ch == '"' || ch == '`') {
      quote = ch;
    } else if (ch == '(') {
      ++depth;
    } else if (ch == ')' && --depth == 0) {
      close = j;
      break;
    }
  }
  if (close == std::string_view::npos) return std::nullopt;
  InsertShape s;
  s.head = std::string(sql.substr(0, values + 6));
  s.row = std::string(sql.substr(open, close - open + 1));
  s.tail = std::string(sql.substr(close + 1));
  // Placeholders only in the row: another row, or a placeholder in the head or the tail
  // (ON CONFLICT ... = ${x}), and the statement runs once per message.
  if (s.head.find("${") != std::string::npos || s.tail.find("${") != std::string::npos)
    return std::nullopt;
  std::size_t k = 0;
  while (k < s.tail.size() && (is_space(s.tail[k]) || s.tail[k] == ';'))
    ++k;
  if (k < s.tail.size() && s.tail[k] == ',') return std::nullopt;  // already several rows
  return s;
}

std::unique_ptr<Connector> make_db_connector(const config::ConnectorConfig& c) {
  return std::make_unique<DbConnector>(c);
}

}  // namespace emqxd::connectors
