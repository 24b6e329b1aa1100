#include "net/connection.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <optional>

#include "common/log.hpp"
#include "common/token_bucket.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "net/admission.hpp"
#include "net/worker.hpp"

namespace emqxd::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
thread_local char t_read_buffer[kReadChunk];  // one per worker thread

// Slow packets. A client may announce a packet of up to mqtt.max_packet_size and send it
// as slowly as it likes; until it is whole it sits in the connection's buffer, and the
// keep alive (or, before CONNECT, the idle timeout) only fires if it never completes: 100
// connections each holding 1 MB of a CONNECT pinned 100 MB for 15 s. So once more than
// kSlowPacketBytes of one packet are buffered, the packet must be whole within
// kSlowPacketGrace plus its announced size at kMinPacketRate (1 MB: 6 s), or the
// connection is closed (Channel::handle_slow_input). Smaller packets are left to the keep
// alive: they cost little to hold.
constexpr std::size_t kSlowPacketBytes = 64 * 1024;
constexpr auto kSlowPacketGrace = std::chrono::seconds(2);
constexpr std::size_t kMinPacketRate = 256 * 1024;  // bytes per second

// A connection that held this much when it closed has its worker return the heap's free
// pages to the kernel (Worker::trim_heap_soon).
constexpr std::size_t kTrimAfterBytes = 1024 * 1024;

// abort(): the longest a connection the server shut down waits for its output to drain.
constexpr auto kAbortGrace = std::chrono::seconds(1);

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("connection");
  return l;
}
}  // namespace

// messages_rate and bytes_rate of one connection: its buckets (each only when set) and the
// timer that resumes reading.
struct Connection::RateLimits {
  RateLimits(asio::io_context& io, const config::Rate& m, const config::Rate& b,
             std::chrono::steady_clock::time_point now)
      : timer(io) {
    if (!m.infinite()) messages.emplace(m.count, m.period, now);
    if (!b.infinite()) bytes.emplace(b.count, b.period, now);
  }
  std::optional<TokenBucket> messages;
  std::optional<TokenBucket> bytes;
  asio::steady_timer timer;
};

// ---------------------------------------------------------------- Connection

namespace {
std::string peer_of(const asio::ip::tcp::socket& socket) {
  error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
}
std::uint16_t local_port_of(const asio::ip::tcp::socket& socket) {
  error_code ec;
  auto local = socket.local_endpoint(ec);
  return ec ? 0 : local.port();
}
}  // namespace

Connection::Connection(Worker& worker, std::shared_ptr<Admission> admission,
                       const asio::ip::tcp::socket& socket)
    : Connection(worker, std::move(admission), peer_of(socket), local_port_of(socket)) {}

Connection::Connection(Worker& worker, std::shared_ptr<Admission> admission, std::string peer,
                       std::uint16_t local_port)
    : worker_(worker),
      timer_(worker.io()),
      channel_(worker.core(), *this),
      admission_(std::move(admission)),
      peer_(std::move(peer)),
      local_port_(local_port) {
  if (admission_ &&
      (!admission_->messages_rate().infinite() || !admission_->bytes_rate().infinite())) {
    limits_ =
        std::make_unique<RateLimits>(worker.io(), admission_->messages_rate(),
                                     admission_->bytes_rate(), std::chrono::steady_clock::now());
  }
}

config::AuthnMode Connection::authn_mode() const {
  return admission_ ? admission_->authn_mode() : config::AuthnMode::On;
}

std::string_view Connection::listener() const {
  return admission_ ? std::string_view(admission_->listener()) : std::string_view();
}

Connection::~Connection() {
  if (admission_) admission_->release(peer_);
}

void Connection::start() {
  worker_.add_connection(this);
  worker_.core().metrics().connections.fetch_add(1, std::memory_order_relaxed);
  last_read_ = std::chrono::steady_clock::now();
  // Until CONNECT arrives the keep alive timer is the idle timeout (0 = infinity).
  set_keepalive(worker_.core().config().mqtt.idle_timeout);
  start_transport();
}

void Connection::on_bytes(std::string_view data) {
  metrics::inc(worker_.core().metrics().bytes_received, data.size());
  auto& stats = channel_.stats();
  stats.recv_oct += data.size();
  ++stats.recv_cnt;
  if (limits_) [[unlikely]]
    charge_bytes(data.size());
  if (in_.empty()) {
    consume(data);
  } else {
    in_.append(data);
    std::string carried;
    carried.swap(in_);
    consume(carried);
  }
}

// Parses every whole packet in `data`; what is left (a partial packet, or input that
// waits while the channel is paused) is kept in in_.
void Connection::consume(std::string_view data) {
  const std::uint32_t max_size = worker_.core().config().mqtt.max_packet_size;
  bool any = false;
  std::size_t declared = 0;  // the announced size of the partial packet left, if known
  while (!data.empty()) {
    if (closing_ || closed_) return;
    if (!channel_.accepting_input()) {
      paused_ = true;
      break;
    }
    if (channel_.state() == session::Channel::State::Idle &&
        static_cast<std::uint8_t>(data.front()) != 0x10) {
      // Not a CONNECT (an HTTP request, TLS to the plain port, noise): no need to wait for
      // a whole packet to know [MQTT-3.1.0-1].
      channel_.handle_decode_error(Errc::ProtocolError);
      return;
    }
    auto h = mqtt::peek_frame(data, max_size);
    if (!h) {
      if (h.error() == Errc::NeedMoreData) break;
      channel_.handle_decode_error(h.error());
      return;
    }
    if (h->total() > data.size()) {
      if (auto e = mqtt::check_fixed_header(h->first_byte, channel_.version()); e != Errc::Ok) {
        channel_.handle_decode_error(e);  // garbage: do not wait for the body it announces
        return;
      }
      // Room for the packet, but not more than one read's worth on a client's word.
      in_.reserve(std::min(h->total(), kReadChunk));
      declared = h->total();
      break;
    }
    // messages_rate: a PUBLISH waits for its token, whole, in in_.
    if (limits_ && (h->first_byte >> 4) == 3 && !take_message()) [[unlikely]] {
      pause_for_rate();
      break;
    }
    auto body = data.substr(h->header_length, h->remaining_length);
    auto packet = mqtt::decode(*h, body, channel_.version());
    data.remove_prefix(h->total());
    if (!packet) {
      channel_.handle_decode_error(packet.error());
      return;
    }
    any = true;
    channel_.handle_in(std::move(*packet));
  }
  // Keep alive counts Control Packets, not bytes [MQTT-3.1.2-22]: a client trickling a
  // packet that never completes is not alive.
  if (any) last_read_ = std::chrono::steady_clock::now();
  if (!data.empty()) in_.assign(data.data(), data.size());
  if (in_.empty()) std::string().swap(in_);
  if (closing_ || closed_) return;
  // Input we hold back (paused, or over a rate once connected) is not a slow client.
  const bool held = paused_ || rate_held();
  if (any || held || in_.size() <= kSlowPacketBytes) partial_deadline_ = {};
  if (!held && in_.size() > kSlowPacketBytes) watch_partial(declared);
  channel_.set_input_bytes(in_.capacity());  // the memory account (force_shutdown)
}

// More than kSlowPacketBytes of a packet are buffered: it gets a deadline, once.
void Connection::watch_partial(std::size_t declared) {
  if (partial_deadline_ != std::chrono::steady_clock::time_point{}) return;
  const auto allowed = kSlowPacketGrace + std::chrono::milliseconds(std::max(declared, in_.size()) *
                                                                    1000 / kMinPacketRate);
  partial_deadline_ = std::chrono::steady_clock::now() + allowed;
  if (keepalive_.count() == 0 || timer_.expiry() > partial_deadline_) {
    arm_keepalive(std::chrono::duration_cast<std::chrono::milliseconds>(allowed));
  }
}

// ---------------------------------------------------------------- rate limits

std::size_t Connection::limited_read_budget(std::size_t chunk) {
  if (!limits_->bytes) return chunk;
  // reading_allowed() said there is at least one token.
  auto n = limits_->bytes->available(chunk, std::chrono::steady_clock::now());
  return std::max<std::size_t>(n, 1);
}

void Connection::charge_bytes(std::size_t n) {
  if (!limits_->bytes) return;
  auto now = std::chrono::steady_clock::now();
  limits_->bytes->take(static_cast<double>(n), now);
  if (!limits_->bytes->ready(now)) pause_for_rate();
}

bool Connection::take_message() {
  return !limits_->messages || limits_->messages->try_take(1, std::chrono::steady_clock::now());
}

// A bucket is empty: stop reading until every empty bucket has its quantum back. The
// connection keeps what it read (in_) and the kernel keeps the rest; the client's TCP
// window closes. Once per pause, not per packet.
void Connection::pause_for_rate() {
  if (rate_paused_ || closed_) return;
  rate_paused_ = true;
  const auto now = std::chrono::steady_clock::now();
  // It is sending: over its rate is not idle (keep alive counts packets we handled).
  if (rate_held()) last_read_ = now;
  std::chrono::steady_clock::duration wait{0};
  const char* which = "messages_rate";
  if (limits_->messages && !limits_->messages->ready(now)) wait = limits_->messages->wait();
  if (limits_->bytes && !limits_->bytes->ready(now) && limits_->bytes->wait() > wait) {
    wait = limits_->bytes->wait();
    which = "bytes_rate";
  }
  metrics::inc(worker_.core().metrics().client_rate_limited);
  // EMQX logs socket_receive_paused_by_rate_limit, throttled; so do we, per worker.
  thread_local std::chrono::steady_clock::time_point last_warning{};
  if (now - last_warning > std::chrono::seconds(10)) {
    last_warning = now;
    logger()->warn(
        "client_id={} peer={} reading paused by {} for {}ms (socket_receive_paused_by_rate_limit; "
        "counted in client.rate_limited, logged at most every 10 s per worker)",
        channel_.client_id(), peer_, which,
        std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
  }
  limits_->timer.expires_after(wait);
  limits_->timer.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->on_rate_timer();
  });
}

// Paused by its rate, after CONNECT: its slowness is ours, so neither the keep alive nor
// the slow-packet deadline holds it against the client. Before CONNECT they do: a client
// not yet let in must not hold a large partial CONNECT for as long as its rate allows.
bool Connection::rate_held() const {
  return rate_paused_ && channel_.state() != session::Channel::State::Idle;
}

void Connection::on_rate_timer() {
  if (closed_) return;
  rate_paused_ = false;
  if (!paused_ && !in_.empty()) {
    std::string carried;
    carried.swap(in_);
    consume(carried);  // may pause again on the next PUBLISH
  }
  read_more();
}

void Connection::resume_input() {
  if (!paused_) return;
  paused_ = false;
  asio::post(worker_.io(), [self = shared_from_this()] {
    if (self->closed_) return;
    if (!self->in_.empty()) {
      std::string carried;
      carried.swap(self->in_);
      self->consume(carried);
    }
    self->read_more();
  });
}

std::string& Connection::output() {
  if (!dirty_ && !closed_) {
    dirty_ = true;
    worker_.mark_dirty(shared_from_this());
  }
  return out_;
}

void Connection::close() {
  if (closed_ || closing_) return;
  closing_ = true;
  output();  // make sure a flush runs; it closes once the output is written
}

void Connection::set_keepalive(std::chrono::milliseconds timeout) {
  if (aborting_) return;
  keepalive_ = timeout;
  timer_.cancel();
  if (keepalive_.count() > 0) arm_keepalive(keepalive_);
  if (partial_deadline_ != std::chrono::steady_clock::time_point{} &&
      (keepalive_.count() == 0 || timer_.expiry() > partial_deadline_)) {
    arm_keepalive(std::chrono::duration_cast<std::chrono::milliseconds>(
        partial_deadline_ - std::chrono::steady_clock::now()));
  }
}

void Connection::abort() {
  if (closed_ || aborting_) return;
  aborting_ = true;
  closing_ = true;
  output();  // the flush at the end of this turn writes what it can and closes if it can
  arm_keepalive(std::chrono::duration_cast<std::chrono::milliseconds>(kAbortGrace));
}

void Connection::arm_keepalive(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->on_keepalive_timer();
  });
}

void Connection::on_keepalive_timer() {
  if (closed_) return;
  if (aborting_) {
    shutdown_now();  // the client did not take its output in time: closed regardless
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const bool partial = partial_deadline_ != std::chrono::steady_clock::time_point{};
  if (partial && now >= partial_deadline_) {
    partial_deadline_ = {};
    channel_.handle_slow_input();
    return;
  }
  std::chrono::steady_clock::duration next = std::chrono::hours(24 * 365);
  // Held back by its rate, or by a remote authorization source: it is sending, not idle.
  if (rate_held() || channel_.awaiting_authz()) last_read_ = now;
  if (keepalive_.count() > 0) {
    // Re-armed once per period, not per packet: reads only stamp last_read_.
    auto idle = now - last_read_;
    if (idle >= keepalive_) {
      channel_.handle_keepalive_timeout();  // [MQTT-3.1.2-24]
      return;
    }
    next = keepalive_ - idle;
  }
  if (partial) next = std::min(next, partial_deadline_ - now);
  if (keepalive_.count() == 0 && !partial) return;
  arm_keepalive(std::chrono::duration_cast<std::chrono::milliseconds>(next) +
                std::chrono::milliseconds(1));
}

void Connection::shutdown_now(bool ours) {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  if (limits_) limits_->timer.cancel();
  if (ours) {
    close_after_output();
  } else {
    close_transport();
  }
  const bool held_much =
      in_.capacity() + out_.capacity() +
          static_cast<std::size_t>(std::max<std::int64_t>(channel_.memory(), 0)) >=
      kTrimAfterBytes;
  std::string().swap(in_);
  std::string().swap(out_);
  worker_.remove_connection(this);
  worker_.core().metrics().connections.fetch_sub(1, std::memory_order_relaxed);
  channel_.handle_closed();
  if (held_much) worker_.trim_heap_soon();
}

// ---------------------------------------------------------------- TcpConnection

TcpConnection::TcpConnection(Worker& worker, asio::ip::tcp::socket socket,
                             std::shared_ptr<Admission> admission)
    : Connection(worker, std::move(admission), socket),
      socket_(std::move(socket)),
      linger_(socket_.get_executor()) {
  error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void TcpConnection::read_more() {
  if (reading_ || !reading_allowed()) return;
  reading_ = true;
  socket_.async_wait(
      asio::ip::tcp::socket::wait_read,
      [self = std::static_pointer_cast<TcpConnection>(shared_from_this())](const error_code& ec) {
        self->reading_ = false;
        if (ec) {
          if (ec != asio::error::operation_aborted) self->shutdown_now();
          return;
        }
        self->on_readable();
      });
}

void TcpConnection::on_readable() {
  if (closed_) return;
  // Drain what the socket has, up to a bound so one busy client cannot starve the others.
  for (int round = 0; round < 4 && reading_allowed(); ++round) {
    error_code ec;
    const std::size_t want = read_budget(kReadChunk);
    std::size_t n = socket_.read_some(asio::buffer(t_read_buffer, want), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec || n == 0) {  // EOF or error: the peer is gone
      shutdown_now();
      return;
    }
    on_input(std::string_view(t_read_buffer, n));
    if (n < want) break;
  }
  read_more();
}

void TcpConnection::flush() {
  dirty_ = false;
  if (closed_ || waiting_write_) return;
  while (!out_.empty()) {
    error_code ec;
    std::size_t n = socket_.write_some(asio::buffer(out_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      wait_writable();
      return;
    }
    if (ec) {
      shutdown_now();
      return;
    }
    metrics::inc(worker_.core().metrics().bytes_sent, n);
    channel().stats().send_oct += n;
    ++channel().stats().send_cnt;
    if (n == out_.size()) {
      std::string().swap(out_);  // idle connections keep no buffer
    } else {
      out_.erase(0, n);
    }
  }
  if (closing_) {
    shutdown_now(true);
    return;
  }
  read_more();  // in case reading stopped for the backlog
}

namespace {
// What a client may still send after our DISCONNECT before the socket closes anyway.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 1024 * 1024;
}  // namespace

// Half-close: our FIN follows the output; the client reads everything we wrote, then EOF.
// What it still sends is read and dropped until it closes too, for at most kLingerTime
// and kLingerBytes, so that the kernel never answers it with RST.
void TcpConnection::close_after_output() {
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) {
    close_transport();
    return;
  }
  linger_.expires_after(kLingerTime);
  linger_.async_wait(
      [self = std::static_pointer_cast<TcpConnection>(shared_from_this())](const error_code& e) {
        if (!e) self->close_transport();
      });
  drain(kLingerBytes);
}

void TcpConnection::drain(std::size_t budget) {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = std::static_pointer_cast<TcpConnection>(shared_from_this()),
                      budget](const error_code& ec) {
                       if (ec) return;  // closed by the linger timer, or an error
                       std::size_t left = budget;
                       for (;;) {
                         error_code e;
                         std::size_t n = self->socket_.read_some(
                             asio::buffer(t_read_buffer, std::min(kReadChunk, left)), e);
                         if (e == asio::error::would_block || e == asio::error::try_again) break;
                         if (e || n == 0 || n >= left) {  // EOF, error or over the budget
                           self->linger_.cancel();
                           self->close_transport();
                           return;
                         }
                         left -= n;
                       }
                       self->drain(left);
                     });
}

void TcpConnection::wait_writable() {
  waiting_write_ = true;
  socket_.async_wait(
      asio::ip::tcp::socket::wait_write,
      [self = std::static_pointer_cast<TcpConnection>(shared_from_this())](const error_code& ec) {
        self->waiting_write_ = false;
        if (ec) {
          if (ec != asio::error::operation_aborted) self->shutdown_now();
          return;
        }
        self->flush();
      });
}

void TcpConnection::close_transport() {
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace emqxd::net
