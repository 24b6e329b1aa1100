#pragma once
// Result<T>: a value or an Errc. The hot path (parse, channel, broker) returns these
// instead of throwing; see docs/contributing.md, "Errors are values on the hot path".
#include <utility>
#include <variant>

#include "common/errc.hpp"

namespace emqxd {

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Errc e) : v_(std::in_place_index<1>, e) {}                  // NOLINT: implicit

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  Errc error() const { return std::get<1>(v_); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Errc> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Errc e) : e_(e) {}  // NOLINT: implicit
  bool has_value() const { return e_ == Errc::Ok; }
  explicit operator bool() const { return has_value(); }
  Errc error() const { return e_; }

 private:
  Errc e_ = Errc::Ok;
};

}  // namespace emqxd
