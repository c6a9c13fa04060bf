// SIGHUP (README, "Operating it"): re-read the configuration, keep what the
// store and the sockets were built from, resize the worker set, and restart
// the children one at a time while every slot's socket keeps queueing.

#include <algorithm>
#include <csignal>
#include <exception>

#include "common/log.hpp"
#include "shm/store.hpp"
#include "supervisor/config_loader.hpp"
#include "supervisor/listen_sockets.hpp"
#include "supervisor/supervisor.hpp"
#include "supervisor/systemd_notify.hpp"

namespace relay::supervisor {
void supervisor::keep_what_a_reload_cannot_change(config& next) const
{
    // What the store and the sockets were built from cannot change while they
    // exist: each such setting is compared (a warning if it changed) and
    // carried over, in one list.
    auto keep = [&](auto config::*field, char const* what) {
        if (next.*field != cfg_.*field)
            RELAY_LOG_WARN("reload: %s changed; it takes effect at the next restart", what);
        next.*field = cfg_.*field;
    };
    // Port 0 (tests) means "any": the bound port is what the sockets have.
    if (next.listen.host != cfg_.listen.host || (cfg_.listen.port != 0 && next.listen.port != cfg_.listen.port))
        RELAY_LOG_WARN("reload: the listen address changed; it takes effect at the next restart");
    next.listen = cfg_.listen;
    keep(&config::metrics, "RELAY_METRICS_ADDR");
    keep(&config::data_dir, "the data directory");
    keep(&config::backend, "the storage backend");
    keep(&config::max_storage_bytes, "RELAY_MAX_STORAGE_BYTES");
    keep(&config::noise_static_key, "RELAY_NOISE_STATIC_KEY");
    keep(&config::store_prefault, "RELAY_STORE_PREFAULT");
    keep(&config::shards, "--shards");
    next.shm_name = cfg_.shm_name; // derived from the listen address, kept with it
}

void supervisor::reload()
{
    if (reloading_) {
        RELAY_LOG_WARN("SIGHUP ignored: a reload is still in progress");
        return;
    }
    std::vector<char const*> argv;
    for (auto const& a : args_)
        argv.push_back(a.c_str());
    config next;
    try {
        auto loaded = load_config(static_cast<int>(argv.size()), argv.data(), process_environment());
        if (!loaded.cfg)
            return;
        for (auto const& warning : loaded.warnings)
            RELAY_LOG_WARN("reload: %s", warning.c_str());
        next = *loaded.cfg;
    } catch (config_error const& e) {
        RELAY_LOG_ERROR("reload failed, the running configuration stays: %s", e.what());
        return;
    }
    keep_what_a_reload_cannot_change(next);
    unsigned const before = cfg_.workers;
    cfg_ = next;
    RELAY_LOG_INFO("reload: %s", describe(cfg_).c_str());
    notify_systemd("RELOADING=1\nSTATUS=reloading");
    reloading_ = true;

    roll_queue_.clear();
    for (child& c : children_) {
        if (c.kind == role::cleanup || c.slot < std::min(before, cfg_.workers))
            roll_queue_.emplace_back(c.kind, c.slot);
        if (c.kind == role::worker && c.slot >= cfg_.workers) {
            c.state = reload_state::retiring;
            if (c.pid > 0)
                signal_child(c, SIGTERM);
        }
    }
    if (cfg_.workers > before) {
        try {
            for (unsigned s = before; s < cfg_.workers; ++s) {
                if (listen_fds_.size() <= s)
                    listen_fds_.resize(s + 1, -1);
                listen_address at = cfg_.listen;
                at.port = bound_port(listen_fds_.front());
                listen_fds_[s] = open_listen_sockets(at, 1).front();
            }
        } catch (std::exception const& e) {
            RELAY_LOG_ERROR("reload: cannot open sockets for new workers (%s); keeping %u workers", e.what(), before);
            cfg_.workers = before;
        }
        for (unsigned s = before; s < cfg_.workers; ++s) {
            children_.push_back(new_child(role::worker, s));
            spawn(children_.back());
        }
    }
}

child* supervisor::find_child(role kind, std::uint32_t slot)
{
    for (child& c : children_)
        if (c.kind == kind && (kind == role::cleanup || c.slot == slot))
            return &c;
    return nullptr;
}

void supervisor::advance_roll()
{
    if (!reloading_)
        return;
    shm::store st(segment_.base());
    if (rolling_) {
        child const* c = find_child(rolling_->first, rolling_->second);
        bool const back = c == nullptr ||
            (c->pid != 0 && c->state != reload_state::rolling &&
             (c->kind == role::cleanup || st.slot(c->slot).heartbeat_ms.load() != 0));
        if (!back)
            return;
        rolling_.reset();
    }
    if (roll_queue_.empty()) {
        if (std::any_of(children_.begin(), children_.end(),
                        [](child const& c) { return c.state == reload_state::retiring; }))
            return;
        reloading_ = false;
        RELAY_LOG_INFO("reload complete: %u workers running the new configuration", cfg_.workers);
        last_status_.clear();
        notify_systemd("READY=1");
        return;
    }
    auto const next = roll_queue_.front();
    roll_queue_.pop_front();
    child* c = find_child(next.first, next.second);
    if (c == nullptr || c->pid == 0)
        return; // gone or restarting anyway: it starts with the new configuration
    RELAY_LOG_INFO("reload: restarting %s", child_name(*c).c_str());
    c->state = reload_state::rolling;
    rolling_ = next;
    signal_child(*c, SIGTERM);
}

} // namespace relay::supervisor
