// deliver: R recipients each have K stored blobs of S bytes; they connect,
// drain and acknowledge them (ReceivedByRecipient, as clients do), then close.
// A window spans exactly the recipients' part of a round, from before the
// first connect until every recipient has closed, so the relay's store work
// for the setup is never counted. Rounds repeat with fresh recipients until
// the windows add up to --duration.
//
// Against the floor there is no setup: the request target tells it K and S,
// and it answers the handshake with K canned deliveries.

#include <string>

#include "bench/loadgen/client.hpp"
#include "bench/loadgen/frames.hpp"
#include "bench/loadgen/report.hpp"
#include "bench/loadgen/scenarios.hpp"
#include "bench/loadgen/store_conn.hpp"

namespace bench::loadgen {
namespace {

constexpr std::uint64_t recipient_tag = 3ull << 40;
/// Setup senders and their window: enough to fill the mailboxes quickly.
constexpr unsigned setup_senders = 16;
constexpr unsigned setup_window = 32;

net::awaitable<void> recipient(runner& r, unsigned t, std::string id, std::string path, unsigned blobs,
                               std::shared_ptr<conn_group> group)
{
    thread_stats& st = r.stats(t);
    ws_stream ws(r.context(t));
    beast::flat_buffer buffer;
    handshake_frame hs;
    hs.set_client_id(id);
    std::uint64_t const started = now_ns();
    if (!co_await open_session(ws, buffer, r.endpoint(), path, hs.bytes())) {
        st.errors.fetch_add(1, std::memory_order_relaxed);
        group->finished.fetch_add(1, std::memory_order_relaxed);
        co_return;
    }
    receipt_frame receipt;
    std::uint64_t seq = 0;
    unsigned received = 0;
    while (received < blobs) {
        buffer.clear();
        auto [ec, n] = co_await ws.async_read(buffer, use_nothrow);
        if (ec) {
            st.errors.fetch_add(1, std::memory_order_relaxed);
            break;
        }
        auto const data = buffer.cdata();
        std::string_view const frame(static_cast<char const*>(data.data()), data.size());
        if (!is_update(frame))
            continue;
        ++received;
        st.ops.fetch_add(1, std::memory_order_relaxed);
        if (!receipt.set(seq++, envelope_id(frame)))
            continue;
        auto [wec, wn] = co_await ws.async_write(net::buffer(receipt.bytes()), use_nothrow);
        if (wec) {
            st.errors.fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
    // The close handshake completes only after the server has read every
    // receipt before it, so the window includes the acknowledgments' cost.
    co_await close_session(ws);
    r.sample(t, now_ns() - started); // time for one recipient to drain its mailbox
    group->finished.fetch_add(1, std::memory_order_relaxed);
}

/// Stores K blobs for each recipient through setup_senders connections.
bool fill_mailboxes(runner& r, std::vector<std::string> const& recipients)
{
    auto const& o = r.opts();
    auto group = std::make_shared<conn_group>();
    unsigned const senders = std::min<unsigned>(setup_senders, static_cast<unsigned>(recipients.size()));
    std::uint64_t const failed_before = r.total(&thread_stats::failed);
    static std::uint32_t next_index = 0; // sender ids stay unique across rounds
    for (unsigned s = 0; s < senders; ++s) {
        store_job job;
        job.index = next_index++;
        job.size = o.size;
        job.window = setup_window;
        for (std::size_t i = s; i < recipients.size(); i += senders)
            job.recipients.push_back(recipients[i]);
        job.budget = std::uint64_t{o.blobs} * job.recipients.size();
        unsigned const t = s % r.size();
        net::co_spawn(r.context(t), store_connection(r, t, std::move(job), group), net::detached);
    }
    bool const done = r.wait("storing the round's blobs", 300, [&] { return group->finished >= senders; });
    return done && group->failed == 0 && r.total(&thread_stats::failed) == failed_before;
}

} // namespace

boost::json::object run_deliver(runner& r)
{
    auto const& o = r.opts();
    bool const floor = o.target == "floor";
    std::string const path = "/bench/deliver?k=" + std::to_string(o.blobs) + "&s=" + std::to_string(o.size);
    auto report = header_report(r);
    window total;
    unsigned rounds = 0;
    std::uint64_t expected = 0;
    while (rounds < std::max(1u, o.rounds) && total.wall_s < o.duration) {
        std::vector<std::string> recipients;
        for (unsigned i = 0; i < o.connections; ++i)
            recipients.push_back(hex64_id(r.salt(), recipient_tag | (std::uint64_t{rounds} << 24) | i));
        r.set(phase::setup);
        if (!floor && !fill_mailboxes(r, recipients)) {
            report["error"] = "the setup could not store every blob";
            break;
        }
        // Setup ops (Stored acks) are not deliveries: the window counts from here.
        r.set(phase::measure);
        r.begin_window();
        auto group = std::make_shared<conn_group>();
        for (unsigned i = 0; i < recipients.size(); ++i) {
            unsigned const t = i % r.size();
            net::co_spawn(r.context(t), recipient(r, t, recipients[i], path, o.blobs, group), net::detached);
        }
        bool const drained = r.wait("draining", 120, [&] { return group->finished >= recipients.size(); });
        total += r.end_window();
        expected += std::uint64_t{o.blobs} * recipients.size();
        ++rounds;
        if (!drained) {
            report["error"] = "recipients did not drain within 120 s";
            break;
        }
        std::fprintf(stderr, "  [deliver %s] round %u: %.2f s of windows so far\n", o.target.c_str(), rounds,
                     total.wall_s);
    }
    r.set(phase::done);
    r.stop();
    report["window"] = window_report(total);
    report["rounds"] = rounds;
    report["expected_blobs"] = expected;
    auto samples = r.merged_latency();
    report["drain_time"] = latency_report(samples, o.cdf_path);
    report["counters"] = counters_report(r);
    return report;
}

} // namespace bench::loadgen
