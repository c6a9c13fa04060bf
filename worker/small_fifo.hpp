#pragma once
// A FIFO queue for a session's outgoing frames and blob references that costs
// no heap memory while it is empty (memory per idle connection is a benchmark target).
//
// std::deque allocates a 512-byte node and its map on construction; with two
// queues per session that was ~1.1 KiB of every idle connection's ~12 KiB.
// This is a vector read from a moving head: pushing appends, popping moves the
// head, and when the head reaches the end the vector is emptied, and released
// if it had grown past `keep_capacity` (a burst of queued replies does not stay
// allocated for the rest of the connection's life). Popped slots are dropped
// once they are half the vector, so a queue that never empties stays bounded
// by its live items.

#include <cstddef>
#include <utility>
#include <vector>

namespace relay::worker {

template <class T, std::size_t keep_capacity = 8>
class small_fifo {
public:
    bool empty() const noexcept { return head_ == items_.size(); }
    std::size_t size() const noexcept { return items_.size() - head_; }

    void push_back(T item) { items_.push_back(std::move(item)); }
    /// The oldest item. Precondition: !empty().
    T const& front() const noexcept { return items_[head_]; }

    /// The oldest item, moved out. Precondition: !empty().
    T pop_front()
    {
        T item = std::move(items_[head_]);
        if (++head_ == items_.size()) {
            head_ = 0;
            if (items_.capacity() > keep_capacity)
                std::vector<T>().swap(items_);
            else
                items_.clear();
        } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
            // A queue that never quite empties must not keep its popped slots:
            // dropping them once they are half of the vector costs O(1) per pop.
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
        return item;
    }

private:
    std::vector<T> items_;
    std::size_t head_ = 0; ///< index of the oldest item; items before it are moved-from
};

} // namespace relay::worker
