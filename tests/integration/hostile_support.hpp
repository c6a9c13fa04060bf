#pragma once
// Tools of the hostile-client suite: an honest client measuring its ack
// latency while an attack runs, and the relay's memory.

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "test_support.hpp"

namespace relay::testing {

/// Heap memory of the whole relay (supervisor and children): the sum of RssAnon.
/// The store is shared memory and is not counted: it is bounded by its
/// configured size whatever clients do.
inline std::uint64_t relay_anon_rss_kib(relay_process const& relay)
{
    std::vector<pid_t> pids = relay.children();
    pids.push_back(relay.pid());
    std::uint64_t total = 0;
    for (pid_t pid : pids) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/status");
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("RssAnon:", 0) == 0)
                total += std::stoull(line.substr(8));
    }
    return total;
}

/// Lets this test process hold thousands of sockets.
inline void raise_fd_limit()
{
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
}

/// Honest clients in their own thread: a sender storing one update at a time
/// (W=1) for a recipient, recording each ack latency until stopped. Every 40
/// updates a new sender and recipient take over, so the probe never meets the
/// rate limit or a quota, whatever the relay's configuration.
class honest_probe {
public:
    explicit honest_probe(std::uint16_t port)
        : thread_([this, port] {
              std::unique_ptr<ws_client> sender;
              for (int i = 0; !stop_; ++i) {
                  if (i % 40 == 0) {
                      sender = connect_as(port, random_id());
                      recipients_.emplace_back(random_id(), 0);
                  }
                  std::string const& recipient = recipients_.back().first;
                  auto const started = std::chrono::steady_clock::now();
                  std::string const id = "h" + std::to_string(i);
                  sender->send_binary(update_frame(recipient, {1, 2, 3}, id));
                  auto const e = sender->receive_envelope(5000ms);
                  auto const* ack = e ? std::get_if<protocol::acknowledgment>(&e->body) : nullptr;
                  if (ack == nullptr || ack->message_id != id ||
                      ack->status != protocol::ack_status::stored) {
                      ++failures_;
                      continue;
                  }
                  auto const us = std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::steady_clock::now() - started).count();
                  samples_.push_back(static_cast<double>(us) / 1000.0);
                  ++recipients_.back().second;
                  std::this_thread::sleep_for(5ms);
              }
              // Nothing stored during the attack is lost: every recipient gets all of it.
              for (auto const& [recipient, stored] : recipients_) {
                  auto r = connect_as(port, recipient);
                  std::size_t got = 0;
                  while (got < stored && r->receive_envelope(2000ms))
                      ++got;
                  delivered_ += got;
              }
          })
    {
    }
    ~honest_probe()
    {
        if (thread_.joinable())
            finish();
    }

    /// Stops the probe; returns p99 ack latency in ms.
    double finish()
    {
        stop_ = true;
        thread_.join();
        BOOST_TEST(failures_ == 0);
        BOOST_TEST(samples_.size() > 10u);
        BOOST_TEST(delivered_ == samples_.size());
        return percentile(0.99);
    }
    double percentile(double p)
    {
        if (samples_.empty())
            return 0;
        std::vector<double> sorted = samples_;
        std::sort(sorted.begin(), sorted.end());
        return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
    }
    std::size_t count() const { return samples_.size(); }

private:
    std::atomic<bool> stop_{false};
    std::vector<double> samples_;
    int failures_ = 0;
    std::size_t delivered_ = 0;
    std::vector<std::pair<std::string, std::size_t>> recipients_;
    std::thread thread_;
};

} // namespace relay::testing
