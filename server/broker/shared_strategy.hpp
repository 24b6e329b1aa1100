#pragma once
// Shared subscriptions (MQTT 5 section 4.8.2): each message published to a group's filter
// goes to one member of the group, and the strategy decides which. The names and meanings
// are EMQX's (`mqtt.shared_subscription_strategy`, apps/emqx/src/emqx_shared_sub.erl):
//
//   random                 a uniformly random member.
//   round_robin            members in turn. In EMQX the turn counter lives in the
//                          publisher's process, so each publisher cycles on its own and the
//                          group as a whole is only round-robin per publisher. We keep one
//                          counter per group (one SharedPicker per group), so round_robin
//                          here behaves as round_robin_per_group does.
//   round_robin_per_group  members in turn, one counter per group shared by all publishers
//                          (EMQX keeps it per node in an ETS table; so do we, per picker).
//   sticky                 a random member, then the same one for as long as it stays
//                          available; re-picked at random when it goes. In EMQX the sticky
//                          choice is also per publisher process; here it is per group.
//   local                  a random member connected to this node, or a random member on any
//                          node when none is local.
//   hash_topic             the member chosen by a hash of the message's topic, so one topic
//                          always goes to the same member while the membership is unchanged.
//   hash_clientid          the same, by a hash of the publisher's client id.
//
// A member can be skipped for one message (offline, its queue full, already tried and
// failed): the caller says which members are available. The hashes are stable across
// processes and machines (FNV-1a), so nodes that list a group's members in the same order
// agree on the member a topic or client id maps to.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace emqxd::broker {

enum class SharedStrategy : std::uint8_t {
  Random,
  RoundRobin,
  RoundRobinPerGroup,
  Sticky,
  Local,
  HashTopic,
  HashClientId,
};

// EMQX's names: "random", "round_robin", "round_robin_per_group", "sticky", "local",
// "hash_topic", "hash_clientid". Anything else -> nullopt.
std::optional<SharedStrategy> parse_shared_strategy(std::string_view name);
std::string_view to_string(SharedStrategy strategy);

// A non-owning yes/no per member index: every member (the default), a span of bools, or a
// callable `bool(std::size_t)`. A view like std::string_view: the span or callable must
// outlive it, so build it in the call to pick(). Indices past the end of a span are "no".
class MemberMask {
 public:
  MemberMask() = default;
  // A std::span<const bool>, std::array<bool, N>, bool[N], ... (not std::vector<bool>,
  // which has no contiguous bools). clang-format 14 mangles requires-clauses: off here.
  // clang-format off
  template <class R>
    requires std::is_convertible_v<const R&, std::span<const bool>>
  MemberMask(const R& bits)  // NOLINT: implicit, a view
      : MemberMask(std::span<const bool>(bits), 0) {}

  // A callable `bool(std::size_t)`.
  template <class F>
    requires(std::is_invocable_r_v<bool, const F&, std::size_t> &&
             !std::is_convertible_v<const F&, std::span<const bool>> &&
             !std::is_same_v<std::remove_cvref_t<F>, MemberMask>)
  MemberMask(const F& f)  // NOLINT: implicit, a view
      : fn_ctx_(&f),
        fn_([](const void* ctx, std::size_t i) -> bool {
          return (*static_cast<const F*>(ctx))(i);
        }),
        kind_(Kind::Fn) {}
  // clang-format on

  bool operator()(std::size_t i) const {
    switch (kind_) {
      case Kind::All:
        return true;
      case Kind::Bits:
        return i < size_ && bits_[i];
      case Kind::Fn:
        return fn_(fn_ctx_, i);
    }
    return false;
  }
  bool all() const { return kind_ == Kind::All; }

 private:
  enum class Kind : std::uint8_t { All, Bits, Fn };
  MemberMask(std::span<const bool> bits, int /*tag*/)
      : bits_(bits.data()), size_(bits.size()), kind_(Kind::Bits) {}
  const bool* bits_ = nullptr;
  std::size_t size_ = 0;
  const void* fn_ctx_ = nullptr;
  bool (*fn_)(const void*, std::size_t) = nullptr;
  Kind kind_ = Kind::All;
};

// What one pick knows about the message and the members.
struct PickInput {
  MemberMask available{};        // members that may take this message; default: all
  MemberMask is_local{};         // Local: members connected to this node; default: all
  std::string_view client_id{};  // HashClientId: the publisher's client id
  std::string_view topic{};      // HashTopic: the message's topic name
};

// Picks the member (an index in [0, n)) that gets one message of one group. Holds the
// group's state: the round-robin cursor, the sticky member, the PRNG. One picker per group;
// not thread-safe (the group's owner calls it). The member list itself is the caller's;
// when it inserts or removes a member it tells the picker, so the cursor and the sticky
// choice keep pointing at the same members.
class SharedPicker {
 public:
  // Seeds the PRNG from a process-wide counter and the clock.
  explicit SharedPicker(SharedStrategy strategy);
  // Deterministic: for tests.
  SharedPicker(SharedStrategy strategy, std::uint64_t seed);

  SharedStrategy strategy() const { return strategy_; }

  // The member for one message among `n` members, skipping unavailable ones; nullopt when
  // n is 0 or no member is available. Allocation-free; O(1) for an available first choice,
  // O(n) scans of the masks otherwise.
  std::optional<std::size_t> pick(std::size_t n, const PickInput& in = {});

  // The caller inserted a member at `index` / removed the member at `index`.
  void member_inserted(std::size_t index);
  void member_removed(std::size_t index);

  // Forgets the cursor and the sticky member.
  void reset();

  std::optional<std::size_t> sticky_member_for_test() const { return sticky_; }

 private:
  std::uint64_t next_random();
  template <class Pred>
  std::optional<std::size_t> pick_random(std::size_t n, const Pred& ok);
  std::optional<std::size_t> pick_round_robin(std::size_t n, const MemberMask& available);
  std::optional<std::size_t> pick_sticky(std::size_t n, const MemberMask& available);
  std::optional<std::size_t> pick_local(std::size_t n, const PickInput& in);
  static std::optional<std::size_t> pick_hash(std::size_t n, std::string_view key,
                                              const MemberMask& available);

  SharedStrategy strategy_;
  std::uint64_t rng_state_;
  std::size_t cursor_ = 0;             // round robin: the index to try first
  std::optional<std::size_t> sticky_;  // sticky: the current member
};

}  // namespace emqxd::broker
