#pragma once
// What the protocol handler needs from its transport: queue a frame, queue a
// blob for lazy delivery, note activity. Implemented by the Beast session and
// by the fake transport of the handler tests.

#include <string>

#include "shm/store.hpp"

namespace relay::worker {

class session_sink {
public:
    virtual ~session_sink() = default;
    /// Queues one complete frame for sending, after those queued before.
    void send_frame(std::string frame) { send_frame(std::move(frame), 0); }
    /// The same, held back until the commit gate's durable generation reaches
    /// `durable_generation` (0: never held; worker/commit_gate.hpp).
    virtual void send_frame(std::string frame, std::uint64_t durable_generation) = 0;
    /// Queues a stored blob; it is read from the store only when it is its turn,
    /// so a long backlog costs a few bytes per blob, not the blob. False if
    /// the queue is full (or closed): the blob stays stored, and the sink asks
    /// its handler to catch up once its queue has drained.
    virtual bool queue_blob(shm::blob_ref const& ref) = 0;
    /// A notification was forwarded: restarts the idle timer (docs/protocol.md#s4-6).
    virtual void touch() = 0;
};

} // namespace relay::worker
