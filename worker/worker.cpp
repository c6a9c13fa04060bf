#include "worker/worker_context.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include "common/exit_codes.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "shm/record_flush.hpp"
#include "shm/fault_injection.hpp"
#include "shm/prefault.hpp"
#include "shm/store.hpp"
#include "worker/asio_fwd.hpp"
#include "worker/client_address.hpp"
#include "worker/http_front.hpp"
#include "worker/metrics_front.hpp"
#include "worker/services.hpp"
#include "worker/ws_session.hpp"

namespace relay::worker {
namespace {

/// How long a draining worker lets sessions finish before it exits anyway.
constexpr auto drain_deadline = std::chrono::seconds(5);

std::uint64_t relay_connections(worker_services& services)
{
    std::uint64_t total = 0;
    for (std::uint32_t s = 0; s < shm::max_worker_slots; ++s)
        total += services.store().slot(s).connections.load(std::memory_order_relaxed);
    return total;
}

/// The next accepted socket, or none once the acceptor is closed. A failed
/// accept (EMFILE and friends) is logged and retried after 100 ms, so the
/// backlog waits instead of the loop spinning. `peer` receives the address
/// accept() returned, which spares a getpeername() per connection.
net::awaitable<std::optional<tcp::socket>> next_socket(tcp::acceptor& acceptor, net::steady_timer& backoff,
                                                       char const* what, tcp::endpoint& peer)
{
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(peer, use_nothrow);
        if (ec == net::error::operation_aborted || !acceptor.is_open())
            co_return std::nullopt;
        if (!ec)
            co_return std::move(socket);
        RELAY_LOG_WARN("%s accept failed: %s (raise LimitNOFILE if this is 'too many open files')", what,
                       ec.message().c_str());
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(use_nothrow);
    }
}

net::awaitable<void> accept_loop(worker_services& services, session_registry& registry, tcp::acceptor& acceptor)
{
    auto executor = co_await net::this_coro::executor;
    net::steady_timer backoff(executor);
    tcp::endpoint endpoint;
    while (auto accepted = co_await next_socket(acceptor, backoff, "client", endpoint)) {
        tcp::socket& socket = *accepted;
        // §2.2 step 2 / D-11: the limit is for the whole relay, so sum every slot.
        if (relay_connections(services) >= services.cfg().max_connections) {
            services.count(shm::counter::connections_rejected_limit);
            services.count(shm::counter::connection_errors_total);
            continue; // the socket closes as it goes out of scope, no bytes written
        }
        // Our addition: one client address cannot take the whole relay. Behind
        // a trusted proxy the client is known only once the proxy has named it
        // (docs/proxies.md), so the cap is applied later, in serve_connection.
        ip_address const peer = address_of(endpoint);
        connection_origin origin{address_source::peer, peer};
        connection_slot slot(services);
        bool const trusted = services.cfg().trusted_proxies.contains(peer);
        if (services.cfg().proxy_protocol) {
            if (!trusted) {
                services.count(shm::counter::connections_rejected_untrusted);
                services.count(shm::counter::connection_errors_total);
                continue;
            }
            origin.source = address_source::proxy_header;
        } else if (trusted) {
            origin.source = address_source::forwarded_for;
        } else if (!admit_client(services, peer, slot)) {
            continue;
        }
        // Every reply is one small frame that should leave now: without this,
        // Nagle plus the peer's delayed ACK holds an ack back up to 40 ms.
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        net::co_spawn(executor, serve_connection(services, registry, std::move(socket), std::move(slot), origin),
                      net::detached);
    }
}

/// Metrics connections open in this worker; scrapers need a handful.
constexpr std::uint32_t max_metrics_connections = 32;

net::awaitable<void> metrics_accept_loop(worker_services& services, tcp::acceptor& acceptor, std::string public_key)
{
    auto executor = co_await net::this_coro::executor;
    auto open = std::make_shared<std::uint32_t>(0);
    net::steady_timer backoff(executor);
    tcp::endpoint peer;
    while (auto accepted = co_await next_socket(acceptor, backoff, "metrics", peer)) {
        tcp::socket& socket = *accepted;
        if (*open >= max_metrics_connections)
            continue; // closed at once; the scraper retries
        ++*open;
        net::co_spawn(executor, serve_metrics_connection(services, std::move(socket), public_key),
                      [open](std::exception_ptr) { --*open; });
    }
}

/// Wraps an inherited listening socket in an acceptor (the fd is dup'ed).
bool adopt_listener(tcp::acceptor& acceptor, int inherited_fd, char const* what)
{
    boost::system::error_code ec;
    int const fd = ::dup(inherited_fd);
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    acceptor.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) {
        RELAY_LOG_ERROR("cannot use the %s socket: %s", what, ec.message().c_str());
        ::close(fd);
        return false;
    }
    return true;
}

net::awaitable<void> notification_loop(worker_services& services)
{
    auto executor = co_await net::this_coro::executor;
    net::posix::stream_descriptor events(executor, ::dup(services.own_event_fd()));
    for (;;) {
        auto [ec] = co_await events.async_wait(net::posix::stream_descriptor::wait_read, use_nothrow);
        if (ec)
            co_return;
        std::uint64_t value = 0;
        [[maybe_unused]] auto n = ::read(events.native_handle(), &value, sizeof value);
        auto const drained = services.rings().drain(services.slot());
        // Catch up before dispatching: a wiped ring may hold pushes posted
        // after the lost ones, which must not overtake them. The catch-up
        // lists both in sequence order, and their pushes are then skipped.
        if (drained.lost)
            services.catch_up_all();
        for (auto const& entry : drained.entries)
            services.dispatch_local(entry);
    }
}

/// Closes sessions past their handshake or idle deadline, every 250 ms: one
/// timer per worker instead of one per connection (cheaper at 10 000 idle connections). Deadlines are
/// therefore enforced up to 250 ms late.
net::awaitable<void> deadline_sweep(session_registry& registry)
{
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(250));
        auto [ec] = co_await timer.async_wait(use_nothrow);
        if (ec)
            co_return;
        registry.sweep(std::chrono::steady_clock::now());
    }
}

net::awaitable<void> heartbeat_loop(worker_services& services)
{
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        services.slot_state().heartbeat_ms.store(clock::monotonic_ms(), std::memory_order_relaxed);
        timer.expires_after(std::chrono::seconds(1));
        auto [ec] = co_await timer.async_wait(use_nothrow);
        if (ec)
            co_return;
    }
}

} // namespace

/// RELAY_SYNC_COMMIT=on: the commit gate flushes the records of the worker's
/// mapping of the store (shm/record_flush.hpp); each finished flush is
/// counted and wakes the sessions whose acks it held (worker/commit_gate.hpp).
bool start_commit_gate(worker_services& services, session_registry& registry, net::io_context& ioc)
{
    config const& cfg = services.cfg();
    if (!cfg.sync_commit)
        return true;
    commit_gate& gate = services.commit_gate();
    std::uint8_t* const base = services.store().base();
    gate.open([base] { return shm::flush_records(base); },
              [&ioc](std::function<void()> f) { net::post(ioc, std::move(f)); },
              [&services, &gate, &registry, counted = std::uint64_t{0}]() mutable {
                  services.count(shm::counter::sync_flushes_total);
                  services.count(shm::counter::sync_records_total, gate.records_flushed() - counted);
                  counted = gate.records_flushed();
                  for (ws_session* s : std::vector<ws_session*>(registry.all()))
                      s->on_durable();
              });
    return true;
}

namespace {

/// RELAY_STORE_PREFAULT with the memory backend: the supervisor's prefault put
/// every page of the store in memory, but a fork copies no page-table entry
/// of a shared mapping, so this worker would still fault each page in on its
/// first touch, in the path of a store. Mapping them all now costs no memory
/// (the pages exist) and writes no data. The file store is left alone: a
/// write-populate would mark every page dirty for the background flush.
void map_the_prefaulted_store(worker_context const& ctx)
{
    if (!ctx.cfg->store_prefault || ctx.cfg->backend != storage_backend::memory)
        return;
    std::uint64_t const size = shm::store(ctx.store_base).header().total_size;
    if (!shm::prefault(ctx.store_base, size, true, {}))
        RELAY_LOG_WARN("could not map the prefaulted store into this worker; pages are mapped on first use instead");
}

} // namespace

int run_worker(worker_context const& ctx)
{
    RELAY_KILL_POINT("worker.start"); // tests of the supervisor's crash-loop handling
    map_the_prefaulted_store(ctx);
    // Declared before the io_context so they outlive it: destroying the
    // io_context destroys suspended coroutine frames, whose sessions and
    // handlers unregister themselves from these on the way out.
    auto noise_key = noise::dh_key::from_pair(ctx.noise_keys);
    if (!noise_key) {
        RELAY_LOG_ERROR("the Noise static key could not be imported into OpenSSL");
        return exit_code::fatal;
    }
    worker_services services(*ctx.cfg, ctx.store_base, ctx.slot, ctx.event_fds, ctx.relay_start_unix,
                             std::move(noise_key));
    session_registry registry;
    net::io_context ioc(1);
    if (!start_commit_gate(services, registry, ioc))
        return exit_code::fatal;

    tcp::acceptor acceptor(ioc);
    if (!adopt_listener(acceptor, ctx.listen_fd, "listening"))
        return exit_code::fatal;
    tcp::acceptor metrics_acceptor(ioc);
    if (ctx.metrics_fd >= 0 && !adopt_listener(metrics_acceptor, ctx.metrics_fd, "metrics"))
        return exit_code::fatal;

    net::signal_set signals(ioc, SIGTERM, SIGINT);
    net::steady_timer drain_timer(ioc);
    signals.async_wait([&](boost::system::error_code const& sec, int) {
        if (sec)
            return;
        services.start_draining();
        RELAY_LOG_INFO("draining %zu sessions", registry.all().size());
        acceptor.close();
        metrics_acceptor.close();
        for (ws_session* s : std::vector<ws_session*>(registry.all()))
            s->go_away();
        drain_timer.expires_after(drain_deadline);
        drain_timer.async_wait([&](boost::system::error_code const&) { ioc.stop(); });
        // Poll for an early finish.
        net::co_spawn(
            ioc,
            [&]() -> net::awaitable<void> {
                net::steady_timer poll(ioc);
                while (!registry.all().empty()) {
                    poll.expires_after(std::chrono::milliseconds(50));
                    co_await poll.async_wait(use_nothrow);
                }
                ioc.stop();
            },
            net::detached);
    });

    net::co_spawn(ioc, accept_loop(services, registry, acceptor), net::detached);
    if (metrics_acceptor.is_open())
        net::co_spawn(ioc, metrics_accept_loop(services, metrics_acceptor, ctx.noise_public_key_b64), net::detached);
    net::co_spawn(ioc, notification_loop(services), net::detached);
    net::co_spawn(ioc, heartbeat_loop(services), net::detached);
    net::co_spawn(ioc, deadline_sweep(registry), net::detached);
    RELAY_LOG_INFO("listening");
    ioc.run();
    RELAY_LOG_INFO(services.draining() ? "drained" : "stopped");
    return exit_code::ok;
}

} // namespace relay::worker
