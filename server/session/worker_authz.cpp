// Authorization that waits for a remote source (auth/authz_http.hpp): the rest of the
// chain runs on the node's blocking pool and its answers come back to this worker as a
// task, as authentication's do (WorkerCore::authenticate): the worker never blocks on a
// request, and a channel that closed meanwhile is not answered (authorizing_ holds the
// serial of its request). docs/architecture.md#authorization-that-waits.
#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "session/channel.hpp"
#include "session/node_state.hpp"
#include "session/worker_core.hpp"

namespace emqxd::session {

namespace {

// The blocking pool is full: the remote sources are not asked (ignore, as a server that
// does not answer), so the rest of the chain ends in no_match.
auth::AuthzDecision not_asked(const auth::Authorization& az, const AuthzQuery& q,
                              const auth::Subject& subject) {
  static thread_local log::Throttle throttle;
  std::uint64_t held = 0;
  if (throttle.allow(std::chrono::steady_clock::now(), held)) {
    log::get("authz")->warn(
        "client_id={} {} to {}: too many authorization requests waiting; the remote sources "
        "are not asked (ignore) ({} similar lines suppressed)",
        subject.client_id, q.action.type == auth::AclActionType::Publish ? "publish" : "subscribe",
        q.topic, held);
  }
  return az.check_from(az.source_count(), subject, q.action, q.topic);
}

}  // namespace

void WorkerCore::authorize_remote(Channel& ch, std::vector<AuthzQuery> queries) {
  const auth::Authorization* az = &node_.authorization;
  auto subject = std::make_shared<const auth::Subject>(ch.subject());
  auto ask = [az, subject](const std::vector<AuthzQuery>& qs) {
    std::vector<auth::AuthzDecision> out;
    out.reserve(qs.size());
    for (const auto& q : qs)
      out.push_back(az->check_from(q.from, *subject, q.action, q.topic));
    return out;
  };
  if (!node_.offload) {  // tests without a pool: here, at once
    ch.on_authz_answers(ask(queries));
    return;
  }
  const std::uint64_t serial = ++auth_serial_;
  authorizing_[&ch] = serial;
  Channel* target = &ch;
  const std::uint32_t home = sched_.id();
  Scheduler* sched = &sched_;
  auto kept = std::make_shared<std::vector<AuthzQuery>>(std::move(queries));
  const bool queued = node_.offload([this, sched, home, target, serial, ask, kept]() mutable {
    auto answers = ask(*kept);
    sched->post(home, [this, target, serial, answers = std::move(answers)]() mutable {
      auto it = authorizing_.find(target);
      if (it == authorizing_.end() || it->second != serial) return;  // closed meanwhile
      authorizing_.erase(it);
      target->on_authz_answers(std::move(answers));
    });
  });
  if (!queued) {
    authorizing_.erase(&ch);
    std::vector<auth::AuthzDecision> answers;
    for (const auto& q : *kept)
      answers.push_back(not_asked(*az, q, *subject));
    ch.on_authz_answers(std::move(answers));
  }
}

void WorkerCore::publish_will_after_authz(std::shared_ptr<const auth::Subject> subject,
                                          AuthzQuery query, mqtt::MessagePtr will,
                                          std::string client_id) {
  const auth::Authorization* az = &node_.authorization;
  auto finish = [this, will, client_id](const auth::AuthzDecision& d) {
    count_authz_decision(metrics_, d);
    if (!d.allow) {
      log::get("channel")->info("client_id={} will to {} not allowed; dropped", client_id,
                                will->topic);
      metrics::inc(metrics_.messages_dropped);
      return;
    }
    metrics::inc(metrics_.wills_published);
    publish(will, client_id);
  };
  if (!node_.offload) {
    finish(az->check_from(query.from, *subject, query.action, query.topic));
    return;
  }
  const std::uint32_t home = sched_.id();
  Scheduler* sched = &sched_;
  auto q = std::make_shared<AuthzQuery>(std::move(query));
  const bool queued = node_.offload([az, sched, home, subject, q, finish]() {
    auto d = az->check_from(q->from, *subject, q->action, q->topic);
    sched->post(home, [finish, d]() { finish(d); });
  });
  if (!queued) finish(not_asked(*az, *q, *subject));
}

}  // namespace emqxd::session
