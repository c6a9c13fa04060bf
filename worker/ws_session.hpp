#pragma once
// One client WebSocket: a reader coroutine, writes chained from a
// bounded queue, and the handshake deadline (D-1) and idle timeout (§4.6),
// checked by the worker's sweep. It moves frames between the socket and its
// connection_handler.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "worker/asio_fwd.hpp"
#include "worker/connection_slot.hpp"
#include "worker/handler.hpp"
#include "noise/transport.hpp"
#include "worker/session_sink.hpp"
#include "worker/small_fifo.hpp"

namespace relay::worker {

class session_registry;

class ws_session final : public std::enable_shared_from_this<ws_session>, public session_sink {
public:
    using stream_type = beast::websocket::stream<beast::tcp_stream>;

    ws_session(worker_services& services, session_registry& registry, stream_type ws, connection_slot slot,
               std::chrono::steady_clock::time_point handshake_deadline);
    ~ws_session() override;

    /// Starts the reader; the session keeps itself alive while it or a write runs.
    void start();
    /// Drain: close with 1001 "going away" after what is queued.
    void go_away();

    using session_sink::send_frame;
    void send_frame(std::string frame, std::uint64_t durable_generation) override;
    /// The commit gate's flush finished: acks it held may go.
    void on_durable() { pump(); }
    bool queue_blob(shm::blob_ref const& ref) override;
    /// The connection has no presence recorded: poll its mailbox (sweep).
    void poll_mailbox() { handler_.poll_mailbox(); }
    void touch() override;
    /// [CLOSE] if the handshake or idle deadline has passed; called by the
    /// worker's sweep (session_registry::sweep).
    void check_deadlines(std::chrono::steady_clock::time_point now);

    /// Frames or bytes beyond these close the connection as a slow consumer
    /// instead of buffering without bound.
    static constexpr std::size_t max_queued_frames = 1024;
    static constexpr std::size_t max_queued_bytes = 8u << 20;
    /// Queued blob references (16 bytes each) beyond this are not queued: the
    /// blob stays stored, and the handler catches up once the queue drained.
    static constexpr std::size_t max_queued_blobs = 16384;

private:
    net::awaitable<void> reader();
    /// Starts writing the next queued frame unless a write is in flight.
    void pump();
    void on_written(beast::error_code ec);
    /// §9.2 steps 1–3 for a v2 opening; false means [CLOSE].
    net::awaitable<bool> noise_handshake(std::string_view opening);
    /// The frame as it goes on the wire: encrypted under Noise. False if it is
    /// too large for a Noise message: it is skipped.
    bool seal(std::string& frame);
    /// [CLOSE]: drop the TCP connection without a Close frame.
    void abort();
    /// TCP_CORK on or off (see pump()).
    void cork(bool on);
    /// Drain, no Handshake came: a Close frame with 1001 "going away".
    void close_going_away();

    /// A sent frame's buffer above this is released after the write, so that
    /// one large delivery does not stay allocated for the connection's life.
    static constexpr std::size_t kept_frame_capacity = 4096;
    /// The same for the read buffer, checked before each message.
    static constexpr std::size_t kept_read_capacity = 16 * 1024;
    /// At a drain, how long a session still waits for its Handshake.
    static constexpr auto drain_handshake_grace = std::chrono::milliseconds(500);
    /// Bytes the first read of a message may append (see reader()).
    static constexpr std::size_t first_read_limit = 512;

    worker_services& services_;
    session_registry& registry_;
    stream_type ws_;
    connection_slot slot_;
    connection_handler handler_;
    beast::flat_buffer buffer_;
    struct queued_frame {
        std::string bytes;
        std::uint64_t durable_generation; ///< held until the commit gate reaches it (0: never)
    };
    small_fifo<queued_frame> frames_;
    std::size_t queued_bytes_ = 0;
    small_fifo<shm::blob_ref> blobs_;
    std::optional<noise::transport> noise_; ///< set once the Noise handshake is done
    std::vector<std::uint8_t> noise_in_;    ///< decrypted incoming frame, reused
    std::vector<std::uint8_t> noise_out_;   ///< encrypted outgoing frame, reused
    std::string in_flight_;                 ///< the frame being written
    /// The blob in flight, if its sender is due a Delivered once it is written.
    std::optional<shm::blob_ref> delivered_due_;
    std::chrono::steady_clock::time_point handshake_deadline_;
    std::chrono::steady_clock::time_point idle_deadline_;
    bool closed_ = false;
    bool writing_ = false; ///< a write (or the final Close) is in flight
    bool corked_ = false;  ///< TCP_CORK is set: more frames are on their way
    bool going_away_ = false;
    bool closing_ = false; ///< close_going_away() sent the Close frame
    bool blobs_overflowed_ = false;
    std::string label_;
    std::size_t registry_index_ = 0; ///< position in session_registry (maintained by it)
    friend class session_registry;
};

/// The worker's live sessions, for drain and the deadline sweep.
class session_registry {
public:
    void add(ws_session* s);
    /// Swaps the last session into the removed one's place: O(1) with 10 000s
    /// of connections.
    void remove(ws_session* s);
    std::vector<ws_session*> const& all() const { return sessions_; }
    /// Closes every session past its handshake or idle deadline, and polls
    /// the mailboxes of those that no push reaches.
    void sweep(std::chrono::steady_clock::time_point now);

private:
    std::vector<ws_session*> sessions_;
};

} // namespace relay::worker
