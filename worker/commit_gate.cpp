#include "worker/commit_gate.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.hpp"
#include "shm/fault_injection.hpp"

namespace relay::worker {

commit_gate::~commit_gate()
{
    if (flusher_.joinable()) {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        flusher_.join();
    }
}

void commit_gate::open(std::function<int()> flush, std::function<void(std::function<void()>)> post,
                       std::function<void()> on_durable)
{
    enabled_ = true;
    flush_ = std::move(flush);
    post_ = std::move(post);
    on_durable_ = std::move(on_durable);
    flusher_ = std::thread([this] { run_flusher(); });
}

std::uint64_t commit_gate::cover()
{
    if (!enabled_)
        return 0;
    ++waiting_records_;
    if (in_flight_ == 0) {
        start_flush();
        return in_flight_;
    }
    // Committed after the running flush began: the next one covers it (it
    // starts as soon as this one finishes).
    return in_flight_ + 1;
}

void commit_gate::start_flush()
{
    // On the worker's thread, so that a kill here leaves the held acks unsent
    // (fault_injection_test: no Stored before its flush).
    RELAY_KILL_POINT("sync.before_flush");
    in_flight_ = durable_ + 1;
    {
        std::lock_guard lock(mutex_);
        requested_ = in_flight_;
        requested_records_ = waiting_records_;
    }
    waiting_records_ = 0;
    wake_.notify_one();
}

void commit_gate::flushed(std::uint64_t generation, std::uint64_t records)
{
    durable_ = generation;
    in_flight_ = 0;
    records_flushed_ += records;
    if (waiting_records_ > 0)
        start_flush();
    if (on_durable_)
        on_durable_();
}

void commit_gate::run_flusher()
{
    std::uint64_t done = 0;
    bool failing = false;
    for (;;) {
        std::uint64_t generation = 0, records = 0;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || requested_ != done; });
            if (stopping_)
                return;
            generation = requested_;
            records = requested_records_;
        }
        // Everything the worker wrote before requesting this generation is in
        // the page cache of the file: the flush puts it on disk.
        while (int const error = flush_()) {
            if (!failing)
                RELAY_LOG_ERROR("flushing the store to disk failed (%s): Stored acks stay held and the flush is "
                                "retried every 100 ms; check the disk holding RELAY_DATA_DIR",
                                std::strerror(error));
            failing = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            std::lock_guard lock(mutex_);
            if (stopping_)
                return;
        }
        failing = false;
        done = generation;
        post_([this, generation, records] { flushed(generation, records); });
    }
}

} // namespace relay::worker
