// Redis over hiredis's blocking API, with its connect and command timeouts set to what is
// left of the caller's deadline. Each word of the command template is one argv element
// (db_client.hpp), so a value never splits into more arguments or commands.
#include <hiredis/hiredis.h>

#include "auth/db/db_client.hpp"

namespace emqxd::auth::db {
namespace {

timeval left_of(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() < 1000) left = std::chrono::microseconds(1000);
  return timeval{static_cast<time_t>(left.count() / 1'000'000),
                 static_cast<suseconds_t>(left.count() % 1'000'000)};
}

std::optional<std::string> text_of(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    default:
      return std::nullopt;
  }
}

class RedisConnection final : public Connection {
 public:
  explicit RedisConnection(redisContext* c) : c_(c) {}
  ~RedisConnection() override { redisFree(c_); }

  bool broken() const override { return c_->err != 0; }

  // The reply, or an error; the connection is broken when hiredis says so (c_->err).
  Reply command(const Args& args, Clock::time_point deadline) {
    if (args.empty()) return Reply::refused("empty command");
    redisSetTimeout(c_, left_of(deadline));
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a ? a->data() : "");
      lens.push_back(a ? a->size() : 0);
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) {
      return {false, c_->errstr[0] != '\0' ? std::string(c_->errstr) : "no reply", {}};
    }
    Reply out;
    out.rows.columns = {"value"};
    if (r->type == REDIS_REPLY_ERROR) {
      out.error = std::string(r->str, r->len);
      out.server_error = true;
    } else {
      out.ok = true;
      if (r->type == REDIS_REPLY_ARRAY) {
        for (std::size_t i = 0; i < r->elements; ++i)
          out.rows.rows.push_back({text_of(r->element[i])});
      } else if (r->type != REDIS_REPLY_NIL) {
        out.rows.rows.push_back({text_of(r)});
      }
    }
    freeReplyObject(r);
    return out;
  }

  Reply run(const Statement& /*s*/, const Args& args, Clock::time_point deadline) override {
    return command(args, deadline);
  }

 private:
  redisContext* c_;
};

}  // namespace

std::unique_ptr<Connection> connect_redis(const Endpoint& e, Clock::time_point deadline,
                                          std::string& error) {
  redisContext* c = redisConnectWithTimeout(e.host.c_str(), e.port, left_of(deadline));
  if (c == nullptr) {
    error = "out of memory";
    return nullptr;
  }
  if (c->err != 0) {
    error = c->errstr;
    redisFree(c);
    return nullptr;
  }
  auto conn = std::make_unique<RedisConnection>(c);
  if (!e.password.empty()) {
    Args auth = {"AUTH"};
    if (!e.username.empty()) auth.push_back(e.username);
    auth.push_back(e.password);
    Reply r = conn->command(auth, deadline);
    if (!r.ok) {
      error = "AUTH: " + r.error;
      return nullptr;
    }
  }
  if (!e.database.empty() && e.database != "0") {
    Reply r = conn->command({"SELECT", e.database}, deadline);
    if (!r.ok) {
      error = "SELECT " + e.database + ": " + r.error;
      return nullptr;
    }
  }
  return conn;
}

}  // namespace emqxd::auth::db
