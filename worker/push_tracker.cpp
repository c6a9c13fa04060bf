#include "worker/push_tracker.hpp"

#include <algorithm>

namespace relay::worker {

bool push_tracker::is_new(std::uint64_t seq) const noexcept
{
    return seq > through_seq_ && std::find(pushed_.begin(), pushed_.end(), seq) == pushed_.end();
}

void push_tracker::queued(std::uint64_t seq) { pushed_.push_back(seq); }

void push_tracker::take(shm::mailbox_listing const& listing, std::function<bool(shm::blob_ref const&)> const& queue)
{
    std::uint64_t reached = listing.through_seq;
    for (auto const& ref : listing.pending) {
        if (ref.seq <= through_seq_ || std::find(pushed_.begin(), pushed_.end(), ref.seq) != pushed_.end())
            continue;
        if (!queue(ref)) {
            reached = ref.seq - 1; // this one and the rest wait for the next listing
            break;
        }
    }
    through_seq_ = std::max(through_seq_, reached);
    std::erase_if(pushed_, [this](std::uint64_t seq) { return seq <= through_seq_; });
}

} // namespace relay::worker
