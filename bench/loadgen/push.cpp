// push: P pairs of an online recipient and a sender storing updates for it at
// an offered rate (open loop, paced in 1 ms steps across all senders). The
// relay pushes each update live (D-5) and the recipient acknowledges it with
// ReceivedByRecipient, which the relay forwards to the sender (D-7) after the
// Delivered notification. Measures the end-to-end latency from the sender's
// write to the recipient's read (a stamp in the ciphertext), the Stored-ack
// latency, and server CPU per pushed update.

#include <chrono>
#include <deque>

#include "bench/loadgen/client.hpp"
#include "bench/loadgen/frames.hpp"
#include "bench/loadgen/report.hpp"
#include "bench/loadgen/scenarios.hpp"
#include "bench/loadgen/store_conn.hpp"

namespace bench::loadgen {
namespace {

constexpr std::uint64_t push_sender_tag = 6ull << 40;
constexpr std::uint64_t push_recipient_tag = 7ull << 40;
constexpr auto pacer_step = std::chrono::milliseconds(1);
/// Updates a sender may owe before further offered load counts as dropped:
/// keeps memory bounded when the server falls behind.
constexpr unsigned max_backlog = 1000;

struct push_conn {
    push_conn(net::io_context& ioc, std::size_t size, std::uint32_t index) : ws(ioc), credit(ioc), frame(size, index) {}
    ws_stream ws;
    beast::flat_buffer buffer;
    net::steady_timer credit;
    update_frame frame;
    std::deque<std::uint64_t> in_flight; ///< send times awaiting Stored
    unsigned due = 0;
    bool writer_waiting = false;
    bool broken = false;
};

using holder = std::vector<std::shared_ptr<push_conn>>;

net::awaitable<void> recipient_loop(runner& r, unsigned t, std::shared_ptr<push_conn> c)
{
    thread_stats& st = r.stats(t);
    receipt_frame receipt;
    std::uint64_t seq = 0;
    for (;;) {
        c->buffer.clear();
        auto [ec, n] = co_await c->ws.async_read(c->buffer, use_nothrow);
        if (ec)
            break;
        auto const data = c->buffer.cdata();
        std::string_view const frame(static_cast<char const*>(data.data()), data.size());
        if (!is_update(frame))
            continue;
        if (auto const stamp = stamp_of(frame))
            r.sample(t, now_ns() - *stamp);
        st.ops.fetch_add(1, std::memory_order_relaxed);
        if (!receipt.set(seq++, envelope_id(frame)))
            continue;
        auto [wec, wn] = co_await c->ws.async_write(net::buffer(receipt.bytes()), use_nothrow);
        if (wec)
            break;
    }
    c->broken = true;
}

net::awaitable<void> sender_reader(runner& r, unsigned t, std::shared_ptr<push_conn> c)
{
    thread_stats& st = r.stats(t);
    for (;;) {
        c->buffer.clear();
        auto [ec, n] = co_await c->ws.async_read(c->buffer, use_nothrow);
        if (ec)
            break;
        auto const data = c->buffer.cdata();
        switch (ack_status({static_cast<char const*>(data.data()), data.size()})) {
        case 'S':
        case 'F':
            if (!c->in_flight.empty()) {
                r.sample(t, now_ns() - c->in_flight.front(), true);
                c->in_flight.pop_front();
            }
            break;
        case 'D':
            st.delivered_acks.fetch_add(1, std::memory_order_relaxed);
            break;
        case 'R':
            st.receipts.fetch_add(1, std::memory_order_relaxed);
            break;
        default:
            break;
        }
    }
    c->broken = true;
    c->credit.cancel();
}

net::awaitable<void> sender_writer(runner& r, unsigned t, std::shared_ptr<push_conn> c, std::uint32_t index,
                                   std::string recipient)
{
    thread_stats& st = r.stats(t);
    c->frame.set_recipient(recipient);
    for (std::uint64_t seq = 0; !c->broken && r.current() < phase::drain;) {
        if (c->due == 0) {
            c->writer_waiting = true;
            c->credit.expires_at(std::chrono::steady_clock::time_point::max());
            co_await c->credit.async_wait(use_nothrow);
            c->writer_waiting = false;
            continue;
        }
        --c->due;
        c->frame.set_message_id(index, seq++);
        std::uint64_t const now = now_ns();
        c->frame.set_stamp(now);
        c->in_flight.push_back(now);
        st.sent.fetch_add(1, std::memory_order_relaxed);
        auto [ec, n] = co_await c->ws.async_write(net::buffer(c->frame.bytes()), use_nothrow);
        if (ec) {
            st.errors.fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
}

net::awaitable<void> open_pair_end(runner& r, unsigned t, std::shared_ptr<push_conn> c, std::string path,
                                   std::string id, bool sender, std::uint32_t index, std::string peer_id, holder& held,
                                   std::shared_ptr<conn_group> group)
{
    handshake_frame hs;
    hs.set_client_id(id);
    if (!co_await open_session(c->ws, c->buffer, r.endpoint(), path, hs.bytes())) {
        r.stats(t).errors.fetch_add(1, std::memory_order_relaxed);
        group->failed.fetch_add(1, std::memory_order_relaxed);
        co_return;
    }
    held.push_back(c);
    group->ready.fetch_add(1, std::memory_order_relaxed);
    if (sender) {
        net::co_spawn(r.context(t), sender_reader(r, t, c), net::detached);
        net::co_spawn(r.context(t), sender_writer(r, t, c, index, std::move(peer_id)), net::detached);
    } else {
        net::co_spawn(r.context(t), recipient_loop(r, t, c), net::detached);
    }
}

/// Offers this thread's share of the rate to its senders, round robin.
net::awaitable<void> pacer(runner& r, unsigned t, holder& senders, double rate)
{
    net::steady_timer tick(r.context(t));
    double const start = now_s();
    std::uint64_t offered = 0;
    std::size_t next = 0;
    while (r.current() < phase::drain && !senders.empty()) {
        tick.expires_after(pacer_step);
        co_await tick.async_wait(use_nothrow);
        auto const target = static_cast<std::uint64_t>((now_s() - start) * rate);
        for (; offered < target; ++offered) {
            auto& s = *senders[next++ % senders.size()];
            if (s.due >= max_backlog || s.broken) {
                r.stats(t).dropped.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            ++s.due;
            if (s.writer_waiting)
                s.credit.cancel();
        }
    }
}

} // namespace

boost::json::object run_push(runner& r)
{
    auto const& o = r.opts();
    auto report = header_report(r);
    unsigned const pairs = std::max(1u, o.connections);
    std::vector<holder> recipients(r.size()), senders(r.size());
    auto rgroup = std::make_shared<conn_group>();
    auto sgroup = std::make_shared<conn_group>();
    for (unsigned i = 0; i < pairs; ++i) {
        unsigned const t = i % r.size();
        auto c = std::make_shared<push_conn>(r.context(t), o.size, i);
        net::co_spawn(r.context(t),
                      open_pair_end(r, t, c, "/bench/push/r/" + std::to_string(i),
                                    hex64_id(r.salt(), push_recipient_tag | i), false, i, {}, recipients[t], rgroup),
                      net::detached);
    }
    r.wait("connecting recipients", 120, [&] { return rgroup->ready + rgroup->failed >= pairs; });
    for (unsigned i = 0; i < pairs; ++i) {
        unsigned const t = i % r.size();
        auto c = std::make_shared<push_conn>(r.context(t), o.size, i);
        net::co_spawn(r.context(t),
                      open_pair_end(r, t, c, "/bench/push/s/" + std::to_string(i),
                                    hex64_id(r.salt(), push_sender_tag | i), true, i,
                                    hex64_id(r.salt(), push_recipient_tag | i), senders[t], sgroup),
                      net::detached);
    }
    r.wait("connecting senders", 120, [&] { return sgroup->ready + sgroup->failed >= pairs; });
    if (rgroup->ready == 0 || sgroup->ready == 0) {
        r.stop();
        report["error"] = "no pair could be opened";
        return report;
    }
    r.set(phase::warmup);
    double const per_thread = o.rate / r.size();
    r.run_on_all([&](unsigned t) { net::co_spawn(r.context(t), pacer(r, t, senders[t], per_thread), net::detached); });
    r.wait("warm-up", o.warmup);
    r.set(phase::measure);
    r.begin_window();
    r.wait("measure", o.duration);
    window const w = r.end_window();
    r.set(phase::drain);
    r.wait("drain", 10, [&] { return r.total(&thread_stats::ops) >= r.total(&thread_stats::sent); });
    r.run_on_all([&](unsigned t) {
        for (auto* side : {&recipients[t], &senders[t]})
            for (auto& c : *side) {
                beast::error_code ec;
                beast::get_lowest_layer(c->ws).socket().close(ec);
            }
    });
    r.wait("closing", 1);
    r.stop();
    report["window"] = window_report(w);
    report["offered_rate"] = o.rate;
    auto e2e = r.merged_latency();
    report["latency"] = latency_report(e2e, o.cdf_path);
    auto stored = r.merged_latency(true);
    report["stored_latency"] = latency_report(stored, {});
    report["counters"] = counters_report(r);
    return report;
}

} // namespace bench::loadgen
