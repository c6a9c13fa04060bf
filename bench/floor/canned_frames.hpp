#pragma once
// The frames the floor server answers with, encoded once by the relay's own
// codec so they have exactly the size and shape of the relay's answers. The
// floor never parses or encodes anything per message: that is what makes it
// the floor (bench/README.md, "Fairness").

#include <cstddef>
#include <map>
#include <memory>
#include <string>

namespace bench::floor {

using frame_ptr = std::shared_ptr<std::string const>;

/// One set per worker thread: the shared_ptr reference counts of frames that
/// every session of a thread queues then never bounce between cores.
class canned_frames {
public:
    canned_frames();

    frame_ptr const& handshake_ack() const { return handshake_ack_; }
    /// Acknowledgment frames with UUID ids, as the relay writes them (§7.4).
    frame_ptr const& stored_ack() const { return stored_ack_; }
    frame_ptr const& delivered_ack() const { return delivered_ack_; }
    frame_ptr const& received_ack() const { return received_ack_; }
    /// An R→C EncryptedUpdate carrying `ciphertext_size` random bytes, built on
    /// first use and then shared by every delivery of that size.
    frame_ptr const& delivery(std::size_t ciphertext_size);

private:
    frame_ptr handshake_ack_;
    frame_ptr stored_ack_;
    frame_ptr delivered_ack_;
    frame_ptr received_ack_;
    std::map<std::size_t, frame_ptr> deliveries_;
};

} // namespace bench::floor
