#pragma once
// Task: a move-only callable. Tasks may own what they carry (a session in transit, a
// client's credentials), which std::function (copyable) cannot.
#include <memory>
#include <type_traits>
#include <utility>

namespace emqxd::common {

class Task {
 public:
  Task() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Task>>>
  Task(F&& f) : impl_(std::make_unique<Impl<std::decay_t<F>>>(std::forward<F>(f))) {}  // NOLINT
  explicit operator bool() const { return impl_ != nullptr; }
  void operator()() { impl_->run(); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void run() = 0;
  };
  template <class F>
  struct Impl final : Base {
    explicit Impl(F&& x) : f(std::move(x)) {}
    explicit Impl(const F& x) : f(x) {}
    void run() override { f(); }
    F f;
  };
  std::unique_ptr<Base> impl_;
};

}  // namespace emqxd::common
