#include "api/admins.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include <array>
#include <boost/json.hpp>
#include <stdexcept>

#include "api/router.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

std::string string_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t int_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

bool random_bytes(unsigned char* out, std::size_t n) {
  if (::getrandom(out, n, 0) == static_cast<ssize_t>(n)) return true;
  return RAND_bytes(out, static_cast<int>(n)) == 1;
}

std::string hex(const unsigned char* b, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

// `n` random bytes as lower-case hex.
std::string random_hex(std::size_t n) {
  std::vector<unsigned char> b(n);
  if (!random_bytes(b.data(), n)) throw std::runtime_error("no random bytes");
  return hex(b.data(), n);
}

// 32 random bytes in URL-safe base64 without padding (43 characters).
std::string random_token() {
  std::array<unsigned char, 32> b{};
  if (!random_bytes(b.data(), b.size())) throw std::runtime_error("no random bytes");
  std::string out = base64_encode(std::string_view(reinterpret_cast<const char*>(b.data()), 32));
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  return out;
}

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, 32> d{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), d.data(), &len, EVP_sha256(), nullptr);
  return hex(d.data(), d.size());
}

}  // namespace

std::string_view role_name(Role r) {
  return r == Role::Viewer ? "viewer" : "administrator";
}

std::optional<Role> parse_role(std::string_view s) {
  if (s == "administrator") return Role::Administrator;
  if (s == "viewer") return Role::Viewer;
  return std::nullopt;
}

void Admins::declare(tables::ReplicatedTables& t) {
  // Room for the tombstones of deleted entries, which the tables keep (and which are
  // forgotten after a week, or sooner when a table would be full: forget_tombstones).
  t.declare(std::string(kUsersTable), kMaxUsers * 10);
  t.declare(std::string(kPasswordsTable), kMaxUsers * 10);
  t.declare(std::string(kKeysTable), kMaxKeys * 10);
  t.declare(std::string(kTokensTable), kMaxTokens);
}

Admins::Admins(tables::ReplicatedTables& tables, Options options)
    : tables_(tables), options_(std::move(options)) {}

std::string_view Admins::message(Error e) {
  switch (e) {
    case Error::None:
      return "ok";
    case Error::Exists:
      return "already exists";
    case Error::NotFound:
      return "not found";
    case Error::BadName:
      return "a name is 1 to 100 letters, digits, '-', '_' or '.', starting with a letter or "
             "a digit";
    case Error::BadPassword:
      return "a password is 8 to 64 characters with at least two kinds of letters, digits "
             "and other characters";
    case Error::WrongPassword:
      return "the old password is wrong";
    case Error::Full:
      return "too many entries";
    case Error::DefaultUser:
      return "the default user (dashboard.default_username) cannot be deleted nor lose the "
             "administrator role; change its password instead";
  }
  return "error";
}

bool Admins::valid_name(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front())) return false;
  for (char c : name)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

bool Admins::valid_password(std::string_view password) {
  if (password.size() < 8 || password.size() > 64) return false;
  bool letter = false, digit = false, other = false;
  for (char c : password) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      letter = true;
    } else if (c >= '0' && c <= '9') {
      digit = true;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return false;  // no control characters
    } else {
      other = true;
    }
  }
  return int(letter) + int(digit) + int(other) >= 2;
}

std::int64_t Admins::now_ms() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::string> Admins::user_record(std::string_view name) const {
  return tables_.get(kUsersTable, name);
}

// ---- users

std::vector<Admins::User> Admins::users() const {
  std::vector<User> out;
  bool default_seen = false;
  tables_.scan(kUsersTable, "", [&](const std::string& key, const std::string& value) {
    auto o = parse_object(value);
    if (!o) return true;
    default_seen |= key == options_.default_username;
    out.push_back(User{key, parse_role(string_of(*o, "role")).value_or(Role::Viewer),
                       string_of(*o, "description")});
    return true;
  });
  if (!default_seen && options_.default_credentials != nullptr) {
    User d{options_.default_username, Role::Administrator, "the default user"};
    auto at = std::lower_bound(out.begin(), out.end(), d, [](const User& a, const User& b) {
      return a.username < b.username;
    });
    out.insert(at, std::move(d));
  }
  return out;
}

std::optional<Admins::User> Admins::user(std::string_view name) const {
  if (auto rec = user_record(name)) {
    auto o = parse_object(*rec);
    if (!o) return std::nullopt;
    return User{std::string(name), parse_role(string_of(*o, "role")).value_or(Role::Viewer),
                string_of(*o, "description")};
  }
  if (name == options_.default_username && options_.default_credentials != nullptr) {
    return User{std::string(name), Role::Administrator, "the default user"};
  }
  return std::nullopt;
}

std::optional<Credentials> Admins::password_of(std::string_view name, bool& from_config) const {
  from_config = false;
  if (auto stored = tables_.get(kPasswordsTable, name)) {
    return Credentials::decode(std::string(name), *stored);
  }
  if (name == options_.default_username && options_.default_credentials != nullptr) {
    from_config = true;
    return *options_.default_credentials;
  }
  return std::nullopt;
}

std::string Admins::fingerprint(std::string_view name) const {
  auto stored = tables_.get(kPasswordsTable, name);
  return stored ? sha256_hex(*stored).substr(0, 32) : std::string("config");
}

void Admins::forget_tombstones(std::string_view table, std::uint64_t age) {
  const std::uint64_t now_us = static_cast<std::uint64_t>(now_ms()) * 1000;
  tables_.forget_if(std::string(table),
                    [&](const std::string&, const std::string&, bool deleted, std::uint64_t stamp) {
                      return deleted && stamp + age < now_us;
                    });
}

Admins::Error Admins::add_user(const std::string& name, std::string_view password, Role role,
                               const std::string& description) {
  if (!valid_name(name) || std::find(options_.reserved_names.begin(), options_.reserved_names.end(),
                                     name) != options_.reserved_names.end()) {
    return Error::BadName;
  }
  if (!valid_password(password)) return Error::BadPassword;
  if (user(name)) return Error::Exists;
  if (has_api_key(name)) return Error::BadName;
  if (tables_.size(kUsersTable) >= kMaxUsers) return Error::Full;
  // Deleted users' tombstones older than an hour make room when the table is full.
  constexpr std::uint64_t kHourUs = 3600ull * 1'000'000;
  const std::string hash = Credentials::make(name, password, options_.iterations).encode();
  json::object o{{"role", role_name(role)}, {"description", description}};
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (tables_.put(std::string(kPasswordsTable), name, hash) &&
        tables_.put(std::string(kUsersTable), name, json::serialize(o))) {
      return Error::None;
    }
    forget_tombstones(kPasswordsTable, kHourUs);
    forget_tombstones(kUsersTable, kHourUs);
  }
  return Error::Full;
}

Admins::Error Admins::update_user(const std::string& name, std::optional<Role> role,
                                  std::optional<std::string> description) {
  auto current = user(name);
  if (!current) return Error::NotFound;
  if (name == options_.default_username && role && *role != Role::Administrator) {
    return Error::DefaultUser;
  }
  // The profile only: the password is its own entry (a concurrent change of it stays).
  json::object o{{"role", role_name(role.value_or(current->role))},
                 {"description", description.value_or(current->description)}};
  return tables_.put(std::string(kUsersTable), name, json::serialize(o)) ? Error::None
                                                                         : Error::Full;
}

Admins::Error Admins::delete_user(const std::string& name) {
  if (name == options_.default_username) return Error::DefaultUser;
  if (!tables_.erase(std::string(kUsersTable), name)) return Error::NotFound;
  tables_.erase(std::string(kPasswordsTable), name);
  revoke_all(name);
  return Error::None;
}

Admins::Error Admins::set_password(const std::string& name, std::string_view new_password) {
  if (!user(name)) return Error::NotFound;
  if (!valid_password(new_password)) return Error::BadPassword;
  const std::string hash = Credentials::make(name, new_password, options_.iterations).encode();
  if (!tables_.put(std::string(kPasswordsTable), name, hash)) {
    forget_tombstones(kPasswordsTable, 3600ull * 1'000'000);
    if (!tables_.put(std::string(kPasswordsTable), name, hash)) return Error::Full;
  }
  revoke_all(name);  // tidy here; elsewhere the tokens fail their fingerprint
  return Error::None;
}

Admins::Verified Admins::verify_user(std::string_view name, std::string_view password) const {
  Verified v;
  bool from_config = false;
  auto u = user(name);
  auto stored = u ? password_of(name, from_config) : std::nullopt;
  if (!stored) {
    // An unknown name is hashed all the same (and fails on the name), so that it answers
    // as slowly as a wrong password.
    if (options_.default_credentials != nullptr) {
      (void)memo_.verify(*options_.default_credentials, "\n", password);
    }
    return v;
  }
  v.exists = true;
  v.passed = memo_.verify(*stored, name, password);
  v.role = u->role;
  v.default_password = from_config && options_.default_password;
  return v;
}

// ---- tokens

std::optional<std::string> Admins::issue_token(const std::string& name) {
  tidy_tokens(name);
  std::string token = random_token();
  json::object o{{"username", name},
                 {"expires", now_ms() + static_cast<std::int64_t>(options_.token_life.count())},
                 {"pw", fingerprint(name)}};
  if (!tables_.put(std::string(kTokensTable), sha256_hex(token), json::serialize(o))) {
    return std::nullopt;
  }
  return token;
}

std::optional<Admins::TokenOwner> Admins::check_token(std::string_view token,
                                                      TokenState* state) const {
  TokenState scratch;
  TokenState& st = state != nullptr ? *state : scratch;
  st = TokenState::Unknown;
  if (token.empty() || token.size() > 128) return std::nullopt;
  auto rec = tables_.get(kTokensTable, sha256_hex(token));
  if (!rec) return std::nullopt;
  auto o = parse_object(*rec);
  if (!o) return std::nullopt;
  const std::string name = string_of(*o, "username");
  auto u = user(name);
  if (!u || string_of(*o, "pw") != fingerprint(name)) return std::nullopt;
  if (int_of(*o, "expires") <= now_ms()) {
    st = TokenState::Expired;
    return std::nullopt;
  }
  st = TokenState::Valid;
  return TokenOwner{u->username, u->role};
}

void Admins::revoke_token(std::string_view token) {
  tables_.erase(std::string(kTokensTable), sha256_hex(token));
}

void Admins::revoke_all(const std::string& name) {
  std::vector<std::string> doomed;
  tables_.scan(kTokensTable, "", [&](const std::string& key, const std::string& value) {
    auto o = parse_object(value);
    if (!o || string_of(*o, "username") == name) doomed.push_back(key);
    return true;
  });
  for (const auto& k : doomed)
    tables_.erase(std::string(kTokensTable), k);
}

void Admins::tidy_tokens(const std::string& name) {
  const std::int64_t now = now_ms();
  const std::uint64_t life_us = static_cast<std::uint64_t>(options_.token_life.count()) * 1000;
  const std::uint64_t now_us = static_cast<std::uint64_t>(now) * 1000;
  // Expired tokens, and tombstones older than a token's life (whatever they stood
  // against has expired too), are dead on every node: forgotten, not replicated. The
  // user's live tokens are listed on the way, oldest first by their stamps (which are
  // unique; two logins within one millisecond expire in the same one).
  std::vector<std::pair<std::uint64_t, std::string>> mine;  // stamp, key
  tables_.forget_if(std::string(kTokensTable), [&](const std::string& key, const std::string& value,
                                                   bool deleted, std::uint64_t stamp) {
    if (deleted) return stamp + life_us < now_us;
    auto o = parse_object(value);
    if (!o || int_of(*o, "expires") <= now) return true;
    if (string_of(*o, "username") == name) mine.emplace_back(stamp, key);
    return false;
  });
  if (mine.size() < kMaxTokensPerUser) return;
  std::sort(mine.begin(), mine.end());
  for (std::size_t i = 0; i + kMaxTokensPerUser - 1 < mine.size(); ++i)
    tables_.erase(std::string(kTokensTable), mine[i].second);
}

// ---- API keys

namespace {

std::optional<Admins::Key> key_of(const std::string& name, std::string_view value) {
  auto o = parse_object(value);
  if (!o) return std::nullopt;
  Admins::Key k;
  k.name = name;
  k.api_key = string_of(*o, "api_key");
  k.desc = string_of(*o, "desc");
  const json::value* e = o->if_contains("enable");
  k.enable = e == nullptr || !e->is_bool() || e->get_bool();
  k.expired_at = int_of(*o, "expired_at");
  k.created_at = int_of(*o, "created_at");
  k.role = parse_role(string_of(*o, "role")).value_or(Role::Viewer);
  return k;
}

}  // namespace

std::vector<Admins::Key> Admins::keys() const {
  std::vector<Key> out;
  tables_.scan(kKeysTable, "", [&](const std::string& key, const std::string& value) {
    if (auto k = key_of(key, value)) out.push_back(std::move(*k));
    return true;
  });
  return out;
}

std::optional<Admins::Key> Admins::key(std::string_view name) const {
  auto rec = tables_.get(kKeysTable, name);
  if (!rec) return std::nullopt;
  return key_of(std::string(name), *rec);
}

Admins::Error Admins::add_key(Key& k, std::string& secret) {
  if (!valid_name(k.name)) return Error::BadName;
  if (key(k.name)) return Error::Exists;
  if (tables_.size(kKeysTable) >= kMaxKeys) return Error::Full;
  forget_tombstones(kKeysTable, 3600ull * 1'000'000);  // room, when deletes filled it
  k.api_key = random_hex(8);
  k.created_at = now_ms() / 1000;
  secret = random_token();
  json::object o{{"api_key", k.api_key},
                 {"secret", Credentials::make(k.api_key, secret, options_.iterations).encode()},
                 {"desc", k.desc},
                 {"enable", k.enable},
                 {"expired_at", k.expired_at},
                 {"created_at", k.created_at},
                 {"role", role_name(k.role)}};
  return tables_.put(std::string(kKeysTable), k.name, json::serialize(o)) ? Error::None
                                                                          : Error::Full;
}

Admins::Error Admins::update_key(const std::string& name, std::optional<bool> enable,
                                 std::optional<std::string> desc,
                                 std::optional<std::int64_t> expired_at) {
  auto rec = tables_.get(kKeysTable, name);
  if (!rec) return Error::NotFound;
  auto o = parse_object(*rec);
  if (!o) return Error::NotFound;
  if (enable) (*o)["enable"] = *enable;
  if (desc) (*o)["desc"] = *desc;
  if (expired_at) (*o)["expired_at"] = *expired_at;
  return tables_.put(std::string(kKeysTable), name, json::serialize(*o)) ? Error::None
                                                                         : Error::Full;
}

Admins::Error Admins::delete_key(const std::string& name) {
  return tables_.erase(std::string(kKeysTable), name) ? Error::None : Error::NotFound;
}

bool Admins::has_api_key(std::string_view api_key) const {
  bool found = false;
  tables_.scan(kKeysTable, "", [&](const std::string&, const std::string& value) {
    auto o = parse_object(value);
    found = o && string_of(*o, "api_key") == api_key;
    return !found;
  });
  return found;
}

Admins::KeyCheck Admins::verify_key(std::string_view api_key, std::string_view secret) const {
  KeyCheck c;
  std::optional<json::object> found;
  tables_.scan(kKeysTable, "", [&](const std::string&, const std::string& value) {
    auto o = parse_object(value);
    if (o && string_of(*o, "api_key") == api_key) {
      found = std::move(o);
      return false;
    }
    return true;
  });
  if (!found) return c;
  c.exists = true;
  auto stored = Credentials::decode(std::string(api_key), string_of(*found, "secret"));
  if (!stored) return c;
  const json::value* e = found->if_contains("enable");
  const bool enabled = e == nullptr || !e->is_bool() || e->get_bool();
  const std::int64_t expires = int_of(*found, "expired_at");
  const bool live = expires == 0 || expires * 1000 > now_ms();
  c.passed = memo_.verify(*stored, api_key, secret) && enabled && live;
  c.role = parse_role(string_of(*found, "role")).value_or(Role::Viewer);
  return c;
}

}  // namespace emqxd::api
