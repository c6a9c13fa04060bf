#include "bench/loadgen/store_conn.hpp"

#include <chrono>
#include <deque>

#include "bench/loadgen/client.hpp"
#include "bench/loadgen/frames.hpp"

namespace bench::loadgen {
namespace {

/// Id-space tags, so ids of different roles never collide within a run.
constexpr std::uint64_t sender_tag = 1ull << 40;
constexpr std::uint64_t offline_tag = 2ull << 40;

struct pending {
    std::uint64_t sent_ns;
    std::size_t size;
};

struct store_state {
    store_state(net::io_context& ioc, store_job j, std::shared_ptr<conn_group> g)
        : ws(ioc), credit(ioc), job(std::move(j)), group(std::move(g)), frame(job.size, job.index)
    {
    }
    // Destroyed when both coroutines let go of it: the connection is over.
    ~store_state() { group->finished.fetch_add(1, std::memory_order_relaxed); }

    ws_stream ws;
    beast::flat_buffer buffer;
    net::steady_timer credit;
    store_job job;
    std::shared_ptr<conn_group> group;
    update_frame frame;
    std::deque<pending> in_flight;
    std::uint64_t sent = 0;
    std::size_t current_size = 0; ///< ciphertext bytes of the frame being sent
    bool writer_waiting = false;
    bool writing_done = false;
    bool closing = false;
};

/// The next frame to send, or false when the job is done.
bool prepare_next(runner& r, store_state& c)
{
    if (r.current() >= phase::drain || (c.job.budget != 0 && c.sent >= c.job.budget))
        return false;
    if (c.job.plan) {
        std::size_t const i = c.job.plan->next.fetch_add(1, std::memory_order_relaxed);
        if (i >= c.job.plan->sizes.size())
            return false;
        c.frame = update_frame(c.job.plan->sizes[i], i);
        c.current_size = c.job.plan->sizes[i];
    } else {
        c.current_size = c.job.size;
    }
    c.frame.set_message_id(c.job.index, c.sent);
    if (!c.job.recipients.empty())
        c.frame.set_recipient(c.job.recipients[c.sent % c.job.recipients.size()]);
    return true;
}

net::awaitable<void> close_once(std::shared_ptr<store_state> c)
{
    if (c->closing)
        co_return;
    c->closing = true;
    co_await close_session(c->ws);
}

net::awaitable<void> reader(runner& r, unsigned t, std::shared_ptr<store_state> c)
{
    thread_stats& st = r.stats(t);
    while (!(c->writing_done && c->in_flight.empty())) {
        c->buffer.clear();
        auto [ec, n] = co_await c->ws.async_read(c->buffer, use_nothrow);
        if (ec) {
            if (!c->closing)
                st.errors.fetch_add(1, std::memory_order_relaxed);
            c->closing = true;
            c->credit.cancel();
            co_return;
        }
        auto const data = c->buffer.cdata();
        char const status = ack_status({static_cast<char const*>(data.data()), data.size()});
        if ((status != 'S' && status != 'F') || c->in_flight.empty())
            continue; // not an answer to one of our updates
        auto const p = c->in_flight.front();
        c->in_flight.pop_front();
        if (status == 'S') {
            st.ops.fetch_add(1, std::memory_order_relaxed);
            st.stored_bytes.fetch_add(p.size, std::memory_order_relaxed);
        } else {
            st.failed.fetch_add(1, std::memory_order_relaxed);
        }
        r.sample(t, now_ns() - p.sent_ns);
        if (c->writer_waiting)
            c->credit.cancel();
    }
    co_await close_once(c);
}

} // namespace

std::vector<std::string> offline_recipients(runner const& r, std::uint32_t index, unsigned count)
{
    std::vector<std::string> ids;
    for (unsigned j = 0; j < count; ++j)
        ids.push_back(hex64_id(r.salt(), offline_tag | (std::uint64_t{index} << 8) | j));
    return ids;
}

net::awaitable<void> store_connection(runner& r, unsigned t, store_job job, std::shared_ptr<conn_group> group)
{
    auto c = std::make_shared<store_state>(r.context(t), std::move(job), group);
    thread_stats& st = r.stats(t);
    handshake_frame hs;
    hs.set_client_id(hex64_id(r.salt(), sender_tag | c->job.index));
    if (!co_await open_session(c->ws, c->buffer, r.endpoint(), "/", hs.bytes())) {
        st.errors.fetch_add(1, std::memory_order_relaxed);
        group->failed.fetch_add(1, std::memory_order_relaxed);
        co_return;
    }
    group->ready.fetch_add(1, std::memory_order_relaxed);
    net::co_spawn(r.context(t), reader(r, t, c), net::detached);
    while (!c->closing) {
        if (c->in_flight.size() >= c->job.window) {
            c->writer_waiting = true;
            c->credit.expires_at(std::chrono::steady_clock::time_point::max());
            co_await c->credit.async_wait(use_nothrow);
            c->writer_waiting = false;
            continue;
        }
        if (!prepare_next(r, *c))
            break;
        c->in_flight.push_back({now_ns(), c->current_size});
        ++c->sent;
        st.sent.fetch_add(1, std::memory_order_relaxed);
        auto const& bytes = c->frame.bytes();
        auto [ec, n] = co_await c->ws.async_write(net::buffer(bytes), use_nothrow);
        if (ec) {
            c->closing = true;
            break;
        }
    }
    c->writing_done = true;
    if (c->in_flight.empty())
        co_await close_once(c);
}

} // namespace bench::loadgen
