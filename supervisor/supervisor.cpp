#include "supervisor/supervisor.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "common/clock.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "shm/fault_injection.hpp"
#include "shm/notify_ring.hpp"
#include "shm/shard.hpp"
#include "shm/store.hpp"
#include "supervisor/cleanup_process.hpp"
#include "supervisor/config_loader.hpp"
#include "supervisor/listen_sockets.hpp"
#include "supervisor/store_bootstrap.hpp"
#include "supervisor/systemd_notify.hpp"
#include "noise/base64url.hpp"
#include "noise/static_key.hpp"
#include "worker/worker_context.hpp"

namespace relay::supervisor {
namespace {

/// A graceful stop that takes longer than this ends with SIGKILL (the workers'
/// own drain deadline is 5 s).
constexpr auto stop_deadline = std::chrono::seconds(8);

std::string describe_status(int status)
{
    if (WIFEXITED(status))
        return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
            strsignal(WTERMSIG(status)) + ")" + (WCOREDUMP(status) ? ", core dumped" : "");
    return "changed state";
}

} // namespace

void supervisor::raise_open_file_limit() const
{
    // Every connection is a descriptor: take the hard limit (systemd's
    // LimitNOFILE, or the shell's), and say when it cannot carry the configured
    // connection limit.
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0)
        return;
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
    std::uint64_t const per_worker = cfg_.max_connections / std::max(1u, cfg_.workers) + 256;
    if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < per_worker)
        RELAY_LOG_WARN("open file limit %llu is below what RELAY_MAX_CONNECTIONS=%llu needs per worker (~%llu): raise "
                       "LimitNOFILE (systemd) or ulimit -n",
                       static_cast<unsigned long long>(r.rlim_cur),
                       static_cast<unsigned long long>(cfg_.max_connections),
                       static_cast<unsigned long long>(per_worker));
}

supervisor::supervisor(config cfg, std::vector<std::string> args)
    : cfg_(std::move(cfg)), args_(std::move(args)), self_(::getpid())
{
}

supervisor::~supervisor()
{
    for (int fd : listen_fds_)
        ::close(fd);
    if (metrics_fd_ >= 0)
        ::close(metrics_fd_);
    for (int fd : event_fds_)
        ::close(fd);
    if (signal_fd_ >= 0)
        ::close(signal_fd_);
    if (data_dir_lock_ >= 0)
        ::close(data_dir_lock_);
}

int supervisor::run()
{
    log::set_role("supervisor");
    shm::set_unprovable_repair_fatal(false); // children re-enable it after fork
    RELAY_LOG_INFO("vauchi-relay %s starting: %s", VAUCHI_RELAY_VERSION, describe(cfg_).c_str());
    relay::clock::anchor_relay_time(); // before any fork: every process shares the relay's calendar
    start_unix_ = relay::clock::relay_unix();
    raise_open_file_limit();
    if (cfg_.metrics_token.empty() && cfg_.metrics.host != "127.0.0.1" && cfg_.metrics.host != "::1")
        RELAY_LOG_WARN("RELAY_METRICS_ADDR %s is not loopback and RELAY_METRICS_TOKEN is unset: anyone who can reach "
                       "it reads the metrics; set a token or bind it to 127.0.0.1",
                       cfg_.metrics.host.c_str());

    // Signals first, so a SIGTERM during a long store recovery is not lost.
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT})
        sigaddset(&mask, sig);
    sigprocmask(SIG_BLOCK, &mask, &old_mask_);
    signal_fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    notify_systemd("STATUS=verifying the store");
    try {
        data_dir_lock_ = lock_data_dir(cfg_);
        segment_ = bootstrap_store(cfg_);
    } catch (shm::damaged_store const& e) {
        RELAY_LOG_ERROR("refusing the store: %s", e.message.c_str());
        return exit_code::store_poisoned;
    } catch (shm::open_error const& e) {
        RELAY_LOG_ERROR("cannot open the store: %s", e.message.c_str());
        return exit_code::fatal;
    }
    // §9.3: Noise is always available; the key is loaded (or created) once,
    // here, and inherited by every worker.
    auto loaded = noise::load_static_key(
        cfg_.noise_static_key.empty() ? std::nullopt : std::optional<std::string_view>(cfg_.noise_static_key),
        cfg_.data_dir);
    for (auto const& w : loaded.warnings)
        RELAY_LOG_WARN("%s", w.c_str());
    if (!loaded.keys) {
        RELAY_LOG_ERROR("cannot load the Noise static key: %s", loaded.error.c_str());
        close_store(segment_, cfg_);
        return exit_code::config_error;
    }
    noise_keys_ = *loaded.keys;
    noise_public_key_b64_ = noise::base64url_encode(noise_keys_.public_key);
    RELAY_LOG_INFO("noise public key (%s): %s%s",
                   loaded.source == noise::key_source::environment ? "from RELAY_NOISE_STATIC_KEY"
                       : loaded.source == noise::key_source::file  ? "from relay_noise_key.bin"
                                                                   : "new, saved to relay_noise_key.bin",
                   noise_public_key_b64_.c_str(), cfg_.require_noise ? "; Noise required" : "");
    try {
        listen_fds_ = open_listen_sockets(cfg_.listen, cfg_.workers);
        metrics_fd_ = open_metrics_socket(cfg_.metrics);
    } catch (std::exception const& e) {
        RELAY_LOG_ERROR("%s", e.what());
        close_store(segment_, cfg_);
        return exit_code::config_error;
    }
    // One eventfd for every possible slot, so that a reload that adds workers
    // does not leave running workers unable to reach the new ones.
    for (unsigned i = 0; i < shm::max_worker_slots; ++i)
        event_fds_.push_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));

    for (std::uint32_t i = 0; i < cfg_.workers; ++i)
        children_.push_back(new_child(role::worker, i));
    children_.push_back(new_child(role::cleanup));
    for (child& c : children_)
        spawn(c);
    watchdog_usec_ = watchdog_interval_usec();
    if (watchdog_usec_ != 0)
        RELAY_LOG_INFO("systemd watchdog every %llu ms, fed while all workers heartbeat",
                       static_cast<unsigned long long>(watchdog_usec_ / 1000));

    while (!(stopping_ && all_stopped())) {
        pollfd pfd{signal_fd_, POLLIN, 0};
        ::poll(&pfd, 1, 100);
        signalfd_siginfo info{};
        while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
            switch (info.ssi_signo) {
            case SIGCHLD:
                break; // reaped below
            case SIGTERM:
            case SIGINT:
                RELAY_LOG_INFO("received %s: draining", strsignal(static_cast<int>(info.ssi_signo)));
                begin_stop(stop_mode::drain);
                break;
            case SIGQUIT:
                RELAY_LOG_INFO("received SIGQUIT: fast stop");
                begin_stop(stop_mode::now);
                break;
            case SIGHUP:
                reload();
                break;
            }
        }
        reap();
        if (stopping_) {
            if (clock::now() >= kill_at_)
                for (child const& c : children_) {
                    if (c.pid > 0)
                        signal_child(c, SIGKILL);
                    if (c.repair_pid > 0)
                        ::kill(c.repair_pid, SIGKILL); // unreaped, so still ours
                }
        } else {
            kill_stalled_workers();
            respawn_due();
            check_ready();
            advance_roll();
            report_status();
            feed_watchdog();
        }
    }
    return finish();
}

void supervisor::spawn(child& c)
{
    shm::store st(segment_.base());
    if (c.kind == role::worker) {
        auto& slot = st.slot(c.slot);
        slot.heartbeat_ms.store(0);
        slot.generation.fetch_add(1);
    }
    c.stall_killed = false;
    pid_t const pid = ::fork();
    if (pid < 0) {
        RELAY_LOG_ERROR("fork failed: %s; retrying in 1 s", std::strerror(errno));
        c.respawn_at = clock::now() + std::chrono::seconds(1);
        return;
    }
    if (pid == 0)
        become_child(c);
    c.pid = pid;
    // Raw syscall: Debian 12's <sys/pidfd.h> lacks C linkage for C++.
    c.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); // -1 before Linux 5.3: signal_child falls back
    c.started = clock::now();
    if (c.kind == role::worker)
        st.slot(c.slot).pid.store(pid);
    RELAY_LOG_INFO("started %s (pid %d)", child_name(c).c_str(), pid);
}

void supervisor::signal_child(child const& c, int sig)
{
    if (c.pid <= 0)
        return;
    if (c.pidfd >= 0)
        ::syscall(SYS_pidfd_send_signal, c.pidfd, sig, nullptr, 0);
    else
        ::kill(c.pid, sig); // only while unreaped, so the pid is still this child's
}

void supervisor::leave_supervisor_after_fork() const
{
    // Die with the supervisor, so no orphan keeps the port or the store
    // (docs/architecture.md#design-1); check the parent afterwards to close the race with prctl.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != self_)
        std::_Exit(exit_code::ok);
    ::close(signal_fd_);
    for (child const& other : children_)
        if (other.pidfd >= 0)
            ::close(other.pidfd);
}

void supervisor::become_child(child const& c)
{
    leave_supervisor_after_fork();
    shm::enable_kill_points();
    shm::set_unprovable_repair_fatal(true);
    int code = exit_code::fatal;
    if (c.kind == role::worker) {
        log::set_role("worker " + std::to_string(c.slot));
        for (std::size_t i = 0; i < listen_fds_.size(); ++i)
            if (i != c.slot)
                ::close(listen_fds_[i]);
        sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
        worker::worker_context ctx;
        ctx.cfg = &cfg_;
        ctx.store_base = segment_.base();
        ctx.slot = c.slot;
        ctx.listen_fd = listen_fds_[c.slot];
        ctx.metrics_fd = metrics_fd_;
        ctx.noise_public_key_b64 = noise_public_key_b64_;
        ctx.noise_keys = noise_keys_;
        ctx.event_fds = event_fds_;
        ctx.relay_start_unix = start_unix_;
        code = worker::run_worker(ctx);
    } else {
        log::set_role("cleanup");
        for (int fd : listen_fds_)
            ::close(fd);
        ::close(metrics_fd_);
        // SIGTERM/SIGINT stay blocked: the cleanup loop waits for them with
        // sigtimedwait so that a stop never lands inside a critical section.
        code = run_cleanup(cfg_, segment_.base());
    }
    std::_Exit(code);
}

void supervisor::reap()
{
    for (;;) {
        int status = 0;
        pid_t const pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (child& c : children_) {
            if (c.pid == pid)
                on_child_exit(c, status);
            else if (c.repair_pid == pid)
                on_repair_exit(c, status);
        }
        std::erase_if(children_, [](child const& c) { return c.state == reload_state::retired; });
    }
}

void supervisor::on_child_exit(child& c, int status)
{
    auto const now = clock::now();
    shm::store st(segment_.base());
    // "Served" = the worker got as far as listening (its first heartbeat); the
    // cleanup process has none, so it must have lived a second. Only children
    // that die before that count as crashing on start (docs/architecture.md#design-1): a worker
    // killed while serving (an operator, the OOM killer, a rare crash) is
    // respawned at once and never brings the relay down.
    bool const served =
        c.kind == role::worker ? st.slot(c.slot).heartbeat_ms.load() != 0 : now - c.started >= healthy_after;
    c.death = {status, c.pid, now - c.started, served};
    c.pid = 0;
    if (c.pidfd >= 0)
        ::close(c.pidfd);
    c.pidfd = -1;
    if (stopping_) {
        // The next start recovers the whole store: no repair now.
        RELAY_LOG_INFO("%s (pid %d) %s", child_name(c).c_str(), c.death.pid, describe_status(status).c_str());
        return;
    }
    // Cleaning up after it takes store locks, which a stopped child could
    // hold: a repair process does it while this loop goes on (child_repair.cpp).
    start_repair(c);
}

void supervisor::after_repair(child& c)
{
    int const status = c.death.status;
    pid_t const pid = c.death.pid;
    auto const lived = c.death.lived;
    bool const served = c.death.served;
    auto const now = clock::now();
    if (stopping_) {
        RELAY_LOG_INFO("%s (pid %d) %s", child_name(c).c_str(), pid, describe_status(status).c_str());
        return;
    }
    if (c.state == reload_state::retiring) {
        RELAY_LOG_INFO("%s (pid %d) retired by reload: %s", child_name(c).c_str(), pid,
                       describe_status(status).c_str());
        ::close(listen_fds_[c.slot]); // its queued connections go to the other slots' sockets from now on
        listen_fds_[c.slot] = -1;
        c.state = reload_state::retired;
        return;
    }
    if (c.state == reload_state::rolling) {
        c.state = reload_state::serving;
        c.backoff = std::chrono::milliseconds(0);
        c.respawn_at = now; // with the new configuration, right away
        return;
    }
    RELAY_LOG_WARN("%s (pid %d) %s after %lld ms", child_name(c).c_str(), pid, describe_status(status).c_str(),
                   static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(lived).count()));
    if (WIFEXITED(status) &&
        (WEXITSTATUS(status) == exit_code::config_error || WEXITSTATUS(status) == exit_code::fatal)) {
        RELAY_LOG_ERROR("%s cannot run (fatal exit code %d, see its log above); stopping the relay",
                        child_name(c).c_str(), WEXITSTATUS(status));
        exit_code_ = WEXITSTATUS(status);
        begin_stop(stop_mode::now);
        return;
    }
    // Escalate when the child could not prove a repair, or when the repair
    // that cleaned up after it could not.
    if ((WIFEXITED(status) && WEXITSTATUS(status) == exit_code::store_poisoned) || c.death.repair_failed) {
        escalate();
        return;
    }
    if (served) {
        c.backoff = std::chrono::milliseconds(0);
        c.respawn_at = now;
        return;
    }
    early_deaths_.push_back(now);
    while (!early_deaths_.empty() && now - early_deaths_.front() > crash_loop_window)
        early_deaths_.pop_front();
    if (static_cast<int>(early_deaths_.size()) >= crash_loop_limit) {
        RELAY_LOG_ERROR(
            "%d children crashed right after starting within %lld s: giving up (check the log above "
            "for the cause)",
            crash_loop_limit,
            static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(crash_loop_window).count()));
        exit_code_ = exit_code::fatal;
        begin_stop(stop_mode::now);
        return;
    }
    c.backoff = c.backoff.count() == 0 ? first_backoff : std::min(max_backoff, c.backoff * 2);
    c.respawn_at = now + c.backoff;
    RELAY_LOG_WARN("%s crashed on start; respawning in %lld ms", child_name(c).c_str(),
                   static_cast<long long>(c.backoff.count()));
}

void supervisor::respawn_due()
{
    auto const now = clock::now();
    for (child& c : children_)
        if (c.pid == 0 && c.repair_pid == 0 && now >= c.respawn_at)
            spawn(c);
}

void supervisor::check_ready()
{
    if (ready_)
        return;
    shm::store st(segment_.base());
    for (child const& c : children_)
        if (c.kind == role::worker && (c.pid == 0 || st.slot(c.slot).heartbeat_ms.load() == 0))
            return;
    ready_ = true;
    RELAY_LOG_INFO("relay ready: listening on %s:%u with %u workers; metrics on %s:%u", cfg_.listen.host.c_str(),
                   bound_port(listen_fds_.front()), cfg_.workers, cfg_.metrics.host.c_str(), bound_port(metrics_fd_));
    notify_systemd("READY=1");
}

void supervisor::escalate()
{
    RELAY_LOG_ERROR("escalating: a shard could not be proven consistent; stopping every child to rebuild and "
                    "verify the whole store");
    notify_systemd("STATUS=rebuilding the store after a failed repair");
    for (child& c : children_) {
        if (c.pid > 0) {
            signal_child(c, SIGKILL);
            ::waitpid(c.pid, nullptr, 0);
            c.pid = 0;
            ::close(c.pidfd);
            c.pidfd = -1;
        }
        if (c.repair_pid > 0) {
            ::kill(c.repair_pid, SIGKILL);
            ::waitpid(c.repair_pid, nullptr, 0);
            c.repair_pid = 0;
        }
    }
    // Nobody else has the store open now: the same recovery as at start-up.
    shm::store st(segment_.base());
    identity_scan_file const scan(cfg_);
    auto const rebuilt = st.recover_unshared({}, scan.fd());
    if (auto const checked = st.check_all(); !checked.consistent) {
        RELAY_LOG_ERROR("the store failed verification after a full rebuild (%s): stopping; keep a copy of the "
                        "store file for analysis and move it away to start with an empty store",
                        checked.problem.c_str());
        exit_code_ = exit_code::store_poisoned;
        begin_stop(stop_mode::now);
        return;
    }
    RELAY_LOG_WARN("store rebuilt and verified after escalation: %llu blobs kept, %llu unreadable dropped; "
                   "restarting every child",
                   static_cast<unsigned long long>(rebuilt.kept),
                   static_cast<unsigned long long>(rebuilt.dropped_total()));
    ready_ = false;
    for (child& c : children_) {
        c.backoff = std::chrono::milliseconds(0);
        spawn(c);
    }
}

void supervisor::wake_all_workers()
{
    std::uint64_t const one = 1;
    for (int fd : event_fds_)
        [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
}

bool supervisor::all_workers_heartbeat() const
{
    // Workers beat every second; three missed beats mean a wedged worker.
    constexpr std::uint64_t stale_after_ms = 3000;
    shm::store st(segment_.base());
    std::uint64_t const now_ms = relay::clock::monotonic_ms();
    for (child const& c : children_) {
        if (c.kind != role::worker)
            continue;
        std::uint64_t const beat = st.slot(c.slot).heartbeat_ms.load();
        if (c.pid == 0 || beat == 0 || beat + stale_after_ms < now_ms)
            return false;
    }
    return true;
}

void supervisor::feed_watchdog()
{
    if (watchdog_usec_ == 0 || !ready_ || clock::now() < next_watchdog_)
        return;
    next_watchdog_ = clock::now() + std::chrono::microseconds(watchdog_usec_ / 2);
    if (all_workers_heartbeat())
        notify_systemd("WATCHDOG=1");
    else
        RELAY_LOG_WARN("not feeding the systemd watchdog: a worker has not heartbeaten for 3 s");
}

void supervisor::report_status()
{
    if (!ready_)
        return;
    unsigned running = 0;
    for (child const& c : children_)
        running += c.kind == role::worker && c.pid != 0;
    std::string const status = "STATUS=" + std::to_string(running) + "/" + std::to_string(cfg_.workers) +
        " workers serving on port " + std::to_string(bound_port(listen_fds_.front()));
    if (status != last_status_) {
        last_status_ = status;
        notify_systemd(status);
    }
}

void supervisor::begin_stop(stop_mode mode)
{
    bool const graceful = mode == stop_mode::drain;
    if (stopping_ && graceful)
        return;
    stopping_ = true;
    notify_systemd(graceful ? "STOPPING=1\nSTATUS=draining" : "STOPPING=1\nSTATUS=stopping now");
    kill_at_ = graceful ? clock::now() + stop_deadline : clock::now();
    for (child const& c : children_)
        if (c.pid > 0)
            signal_child(c, graceful ? SIGTERM : SIGKILL);
}

bool supervisor::all_stopped() const
{
    for (child const& c : children_)
        if (c.pid > 0 || c.repair_pid > 0)
            return false;
    return true;
}

int supervisor::finish()
{
    close_store(segment_, cfg_);
    RELAY_LOG_INFO("stopped (exit code %d)", exit_code_);
    return exit_code_;
}

} // namespace relay::supervisor
