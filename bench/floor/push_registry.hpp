#pragma once
// Where the floor finds the other end of a push pair (bench/README.md, "push").
// Shared by every worker thread; looked up once per session, never per message.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace bench::floor {

class floor_session;

class push_registry {
public:
    /// Pair ids come from clients: past this many entries new ones are ignored,
    /// so a stray client cannot grow the map without bound.
    static constexpr std::size_t max_entries = 1u << 20;

    void add(bool sender, std::uint32_t pair, std::weak_ptr<floor_session> session)
    {
        std::lock_guard lock(mutex_);
        auto& map = sender ? senders_ : recipients_;
        if (map.size() < max_entries || map.contains(pair))
            map[pair] = std::move(session);
    }

    std::shared_ptr<floor_session> find(bool sender, std::uint32_t pair)
    {
        std::lock_guard lock(mutex_);
        auto& map = sender ? senders_ : recipients_;
        auto it = map.find(pair);
        return it == map.end() ? nullptr : it->second.lock();
    }

private:
    std::mutex mutex_;
    std::unordered_map<std::uint32_t, std::weak_ptr<floor_session>> senders_;
    std::unordered_map<std::uint32_t, std::weak_ptr<floor_session>> recipients_;
};

} // namespace bench::floor
