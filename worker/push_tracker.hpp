#pragma once
// Which of a routing id's blobs one connection has queued, so that no blob is
// lost when its live push is, and none is sent twice
// (docs/architecture.md#push-fallback).
//
// A push can fail to reach a connection: the target worker's notification
// ring is full or was reset, the presence table had no room for the
// connection, or the session's own blob queue was full. Each of these leads
// to a listing of the mailbox past `through_seq`, which finds every blob the
// connection has not queued yet. A listing happens under the shard lock, and
// a shard's sequence numbers rise with every commit, so the blobs committed
// after it all carry a higher sequence number: they are either pushed or found
// by the next listing.

#include <cstdint>
#include <functional>
#include <vector>

#include "shm/store.hpp"

namespace relay::worker {

class push_tracker {
public:
    /// Pushed blobs remembered above `through_seq` before a listing is due to
    /// forget them (a listing's cost is one mailbox walk).
    static constexpr std::size_t max_remembered = 256;

    /// True if the blob `seq` arriving by push has not been queued yet.
    bool is_new(std::uint64_t seq) const noexcept;
    /// The pushed blob `seq` was queued.
    void queued(std::uint64_t seq);
    /// Enough pushes are remembered that a listing should replace them.
    bool wants_listing() const noexcept { return pushed_.size() >= max_remembered; }

    /// Queues, in order, every blob of `listing` not queued yet. `queue`
    /// returns false when the session's queue is full: the blobs from there
    /// on stay for the next listing.
    void take(shm::mailbox_listing const& listing, std::function<bool(shm::blob_ref const&)> const& queue);

    std::uint64_t through_seq() const noexcept { return through_seq_; }

private:
    /// Every blob committed up to this sequence was queued (or is gone).
    std::uint64_t through_seq_ = 0;
    /// Sequence numbers above through_seq_ that came by push and were queued.
    std::vector<std::uint64_t> pushed_;
};

} // namespace relay::worker
