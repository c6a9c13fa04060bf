#include "bench/loadgen/runner.hpp"

#include <chrono>
#include <cstdio>
#include <future>
#include <random>

namespace bench::loadgen {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

window& window::operator+=(window const& w)
{
    wall_s += w.wall_s;
    ops += w.ops;
    server_cpu_s += w.server_cpu_s;
    generator_cpu_s += w.generator_cpu_s;
    server_processes = std::max(server_processes, w.server_processes);
    return *this;
}

runner::runner(options const& o)
    : opts_(o), endpoint_(net::ip::make_address(o.host), o.port), salt_(std::random_device{}() * 0x9E3779B97F4A7C15ULL)
{
    unsigned const n = std::max(1u, o.threads);
    for (unsigned t = 0; t < n; ++t) {
        contexts_.push_back(std::make_unique<net::io_context>(1));
        stats_.push_back(std::make_unique<thread_stats>());
        guards_.push_back(net::make_work_guard(*contexts_.back()));
    }
    for (unsigned t = 0; t < n; ++t)
        threads_.emplace_back([ctx = contexts_[t].get()] { ctx->run(); });
}

runner::~runner() { stop(); }

void runner::stop()
{
    if (threads_.empty())
        return;
    guards_.clear();
    for (auto& c : contexts_)
        c->stop();
    for (auto& t : threads_)
        t.join();
    threads_.clear();
}

void runner::sample(unsigned t, std::uint64_t ns, bool secondary)
{
    if (!recording())
        return;
    auto& v = secondary ? stats_[t]->latency2_ns : stats_[t]->latency_ns;
    if (v.size() < max_samples_per_thread)
        v.push_back(ns);
}

std::uint64_t runner::total(std::atomic<std::uint64_t> thread_stats::*counter) const
{
    std::uint64_t sum = 0;
    for (auto const& s : stats_)
        sum += ((*s).*counter).load(std::memory_order_relaxed);
    return sum;
}

void runner::run_on_all(std::function<void(unsigned)> const& fn)
{
    std::vector<std::future<void>> done;
    for (unsigned t = 0; t < size(); ++t) {
        auto task = std::make_shared<std::packaged_task<void()>>([fn, t] { fn(t); });
        done.push_back(task->get_future());
        net::post(*contexts_[t], [task] { (*task)(); });
    }
    for (auto& f : done)
        f.wait_for(std::chrono::seconds(30)); // bounded: a wedged thread must not hang the run
}

bool runner::wait(std::string_view what, double seconds, std::function<bool()> const& done)
{
    double const start = now_s();
    last_print_ = start;
    last_ops_ = total(&thread_stats::ops);
    last_server_ = tree_cpu(opts_.server_pid).seconds;
    last_self_ = self_cpu_seconds();
    for (;;) {
        if (done && done())
            return true;
        double const now = now_s();
        if (now - start >= seconds)
            return !done;
        if (now - last_print_ >= 1.0)
            progress(what, now - start, seconds);
        std::this_thread::sleep_for(std::chrono::milliseconds(done ? 20 : 50));
    }
}

void runner::progress(std::string_view what, double elapsed, double limit)
{
    double const now = now_s();
    double const dt = now - last_print_;
    std::uint64_t const ops = total(&thread_stats::ops);
    double const server = tree_cpu(opts_.server_pid).seconds;
    double const self = self_cpu_seconds();
    std::fprintf(stderr,
                 "  [%s %s] %.*s %.0f/%.0f s: %llu ops (%.0f/s), generator cpu %.0f%%, server cpu %.0f%%, "
                 "errors %llu\n",
                 opts_.scenario.c_str(), opts_.target.c_str(), static_cast<int>(what.size()), what.data(), elapsed,
                 limit, static_cast<unsigned long long>(ops), static_cast<double>(ops - last_ops_) / dt,
                 100 * (self - last_self_) / dt, 100 * (server - last_server_) / dt,
                 static_cast<unsigned long long>(total(&thread_stats::errors)));
    last_print_ = now;
    last_ops_ = ops;
    last_server_ = server;
    last_self_ = self;
}

void runner::begin_window()
{
    window_server_ = tree_cpu(opts_.server_pid);
    window_self_ = self_cpu_seconds();
    window_ops_ = total(&thread_stats::ops);
    window_start_ = now_s();
}

window runner::end_window()
{
    window w;
    w.wall_s = now_s() - window_start_;
    w.ops = total(&thread_stats::ops) - window_ops_;
    auto const server = tree_cpu(opts_.server_pid);
    w.server_cpu_s = server.seconds - window_server_.seconds;
    w.server_processes = server.processes;
    w.generator_cpu_s = self_cpu_seconds() - window_self_;
    return w;
}

std::vector<std::uint64_t> runner::merged_latency(bool secondary) const
{
    std::vector<std::uint64_t> all;
    for (auto const& s : stats_) {
        auto const& v = secondary ? s->latency2_ns : s->latency_ns;
        all.insert(all.end(), v.begin(), v.end());
    }
    return all;
}

} // namespace bench::loadgen
