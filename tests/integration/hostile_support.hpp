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
///
/// Boost.Test is not thread-safe, so nothing in the probe's thread uses its
/// macros (ws_client::receive_envelope and connect_as do): it decodes frames
/// itself and counts failures, which finish() checks from the test's thread.
class honest_probe {
public:
    explicit honest_probe(std::uint16_t port) : port_(port), thread_([this] { run(); }) {}
    ~honest_probe()
    {
        if (thread_.joinable()) {
            stop_ = true;
            thread_.join();
        }
    }

    /// Waits for at least 20 samples (at most 10 s), stops the probe and
    /// returns the p99 ack latency in ms.
    double finish()
    {
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (sample_count_ < 20 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        stop_ = true;
        thread_.join();
        BOOST_TEST(failures_ == 0);
        BOOST_TEST(samples_.size() >= 20u);
        BOOST_TEST(delivered_ == samples_.size());
        return percentile(0.99);
    }
    double percentile(double p) const
    {
        if (samples_.empty())
            return 0;
        std::vector<double> sorted = samples_;
        std::sort(sorted.begin(), sorted.end());
        return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
    }

private:
    static std::optional<protocol::envelope> next(ws_client& c, std::chrono::milliseconds timeout)
    {
        auto bytes = c.receive(timeout);
        if (!bytes)
            return std::nullopt;
        auto decoded = protocol::decode_frame(*bytes);
        if (!decoded)
            return std::nullopt;
        return *decoded;
    }

    std::unique_ptr<ws_client> connect(std::string const& id)
    {
        try {
            auto c = std::make_unique<ws_client>(port_, "/ws");
            c->send_binary(handshake_frame(id));
            auto ack = next(*c, std::chrono::milliseconds(5000));
            if (ack && std::holds_alternative<protocol::handshake_ack>(ack->body))
                return c;
        } catch (std::exception const&) {
        }
        ++failures_;
        return nullptr;
    }

    void run()
    {
        std::unique_ptr<ws_client> sender;
        for (int i = 0; !stop_; ++i) {
            if (i % 40 == 0) {
                sender = connect(random_id());
                if (!sender)
                    return;
                recipients_.emplace_back(random_id(), 0);
            }
            std::string const id = "h" + std::to_string(i);
            auto const started = std::chrono::steady_clock::now();
            sender->send_binary(update_frame(recipients_.back().first, {1, 2, 3}, id));
            auto const e = next(*sender, std::chrono::milliseconds(5000));
            auto const* ack = e ? std::get_if<protocol::acknowledgment>(&e->body) : nullptr;
            if (ack == nullptr || ack->message_id != id || ack->status != protocol::ack_status::stored) {
                ++failures_;
                continue;
            }
            auto const us =
                std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
                    .count();
            samples_.push_back(static_cast<double>(us) / 1000.0);
            ++sample_count_;
            ++recipients_.back().second;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        // Nothing stored during the attack is lost: every recipient gets all of it.
        for (auto const& [recipient, stored] : recipients_) {
            auto r = connect(recipient);
            if (!r)
                return;
            std::size_t got = 0;
            while (got < stored && next(*r, std::chrono::milliseconds(2000)))
                ++got;
            delivered_ += got;
        }
    }

    std::uint16_t port_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> sample_count_{0};
    std::vector<double> samples_;
    int failures_ = 0;
    std::size_t delivered_ = 0;
    std::vector<std::pair<std::string, std::size_t>> recipients_;
    std::thread thread_; ///< last: starts once every member above exists
};

} // namespace relay::testing
