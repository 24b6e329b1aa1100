#include "auth/builtin_db.hpp"

#include <boost/json.hpp>

#include "auth/base64.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::auth {

namespace json = boost::json;

std::string encode_user(const StoredUser& u, bool scram) {
  json::object o;
  if (scram) {
    o["stored_key"] = base64(u.scram.stored_key);
    o["server_key"] = base64(u.scram.server_key);
    o["salt"] = base64(u.scram.salt);
    o["iterations"] = u.scram.iterations;
  } else {
    o["password_hash"] = u.password_hash;
    o["salt"] = u.salt;
  }
  o["is_superuser"] = u.is_superuser;
  return json::serialize(o);
}

std::optional<StoredUser> decode_user(std::string_view text, bool scram) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  auto str = [&](std::string_view k) -> std::optional<std::string> {
    auto* x = o.if_contains(k);
    if (x == nullptr || !x->is_string()) return std::nullopt;
    return std::string(x->get_string());
  };
  StoredUser u;
  if (auto* s = o.if_contains("is_superuser"); s != nullptr && s->is_bool()) {
    u.is_superuser = s->get_bool();
  }
  if (scram) {
    auto stored = str("stored_key"), server = str("server_key"), salt = str("salt");
    auto* it = o.if_contains("iterations");
    if (!stored || !server || !salt || it == nullptr || !it->is_int64()) return std::nullopt;
    auto a = unbase64(*stored), b = unbase64(*server), c = unbase64(*salt);
    if (!a || !b || !c || it->get_int64() < 1 || it->get_int64() > 10'000'000) return std::nullopt;
    u.scram.stored_key = std::move(*a);
    u.scram.server_key = std::move(*b);
    u.scram.salt = std::move(*c);
    u.scram.iterations = static_cast<int>(it->get_int64());
    return u;
  }
  auto hash = str("password_hash"), salt = str("salt");
  if (!hash || !salt) return std::nullopt;
  u.password_hash = std::move(*hash);
  u.salt = std::move(*salt);
  return u;
}

UserDatabase::UserDatabase(tables::ReplicatedTables& tables, bool scram, PasswordAlgorithm algo,
                           ScramAlgorithm scram_algo, int iterations)
    : tables_(tables),
      scram_(scram),
      algo_(std::move(algo)),
      scram_algo_(scram_algo),
      iterations_(iterations) {}

std::string_view UserDatabase::id() const {
  return table().substr(6);  // after "authn/"
}

StoredUser UserDatabase::make(std::string_view password, bool is_superuser) const {
  StoredUser u;
  u.is_superuser = is_superuser;
  if (scram_) {
    u.scram = scram_credentials(scram_algo_, password, iterations_);
  } else {
    auto h = hash_password(algo_, password);
    u.password_hash = std::move(h.hash);
    u.salt = std::move(h.salt);
  }
  return u;
}

UserDatabase::Outcome UserDatabase::add(const std::string& user_id, std::string_view password,
                                        bool is_superuser) const {
  if (tables_.get(table(), user_id)) return Outcome::Exists;
  if (tables_.size(table()) >= kMaxUsers) return Outcome::Full;
  // Two API calls adding one user at once: the later write wins, as EMQX's database.
  if (!tables_.put(std::string(table()), user_id,
                   encode_user(make(password, is_superuser), scram_)))
    return Outcome::Full;
  return Outcome::Ok;
}

UserDatabase::Outcome UserDatabase::update(const std::string& user_id,
                                           std::optional<std::string_view> password,
                                           std::optional<bool> is_superuser) const {
  auto cur = find(user_id);
  if (!cur) return Outcome::NotFound;
  StoredUser u = password ? make(*password, is_superuser.value_or(cur->is_superuser)) : *cur;
  if (is_superuser) u.is_superuser = *is_superuser;
  if (!tables_.put(std::string(table()), user_id, encode_user(u, scram_))) return Outcome::Full;
  return Outcome::Ok;
}

UserDatabase::Outcome UserDatabase::erase(const std::string& user_id) const {
  return tables_.erase(std::string(table()), user_id) ? Outcome::Ok : Outcome::NotFound;
}

std::optional<StoredUser> UserDatabase::find(std::string_view user_id) const {
  auto v = tables_.get(table(), user_id);
  if (!v) return std::nullopt;
  return decode_user(*v, scram_);
}

std::optional<UserDatabase::UserInfo> UserDatabase::get(const std::string& user_id) const {
  auto u = find(user_id);
  if (!u) return std::nullopt;
  return UserInfo{user_id, u->is_superuser};
}

UserDatabase::Page UserDatabase::list(const Filter& f, std::size_t page, std::size_t limit) const {
  Page out;
  const std::size_t skip = (page == 0 ? 0 : page - 1) * limit;
  tables_.scan(table(), "", [&](const std::string& key, const std::string& value) {
    if (!f.like_user_id.empty() && key.find(f.like_user_id) == std::string::npos) return true;
    auto u = decode_user(value, scram_);
    if (!u) return true;
    if (f.is_superuser && *f.is_superuser != u->is_superuser) return true;
    if (out.count >= skip && out.users.size() < limit) out.users.push_back({key, u->is_superuser});
    ++out.count;
    return true;
  });
  return out;
}

std::size_t UserDatabase::import_missing(
    const std::vector<std::pair<std::string, StoredUser>>& users) const {
  std::size_t added = 0;
  for (const auto& [id, u] : users) {
    if (tables_.get(table(), id)) continue;
    if (tables_.put(std::string(table()), id, encode_user(u, scram_))) ++added;
  }
  return added;
}

}  // namespace emqxd::auth
