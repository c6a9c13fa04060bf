#pragma once
// The per-connection protocol state machine (docs/protocol.md#s4, §7, §8 with the
// §16 decisions), written against the store and a session_sink so it can be
// tested without sockets. The Beast session only moves bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shm/store.hpp"
#include "worker/protocol/messages.hpp"
#include "worker/push_tracker.hpp"
#include "worker/services.hpp"
#include "worker/session_sink.hpp"

namespace relay::worker {

class connection_handler {
public:
    connection_handler(worker_services& services, session_sink& sink);
    ~connection_handler();
    connection_handler(connection_handler const&) = delete;
    connection_handler& operator=(connection_handler const&) = delete;

    enum class verdict { proceed, close };

    /// The first binary message (§4.3–4.4). `close` means [CLOSE]: drop the
    /// connection without a reply. On `proceed` the HandshakeAck and the pending
    /// blobs are already queued on the sink. `noise`: the session completed the
    /// Noise NK handshake, so HandshakeAck lists `noise_nk` (§9.2 step 6).
    verdict on_handshake(std::string_view frame, bool noise = false);
    /// Every later binary message (§4.5 pipeline). Never closes the connection.
    void on_message(std::string_view frame);
    struct outgoing {
        std::string frame;
        /// Call on_delivery_written() once the frame is written: its sender
        /// may be due a Delivered ack (D-6, D-7).
        bool delivered_due = false;
    };
    /// Reads a queued blob from the store and encodes its delivery; a
    /// device-sync reference becomes a DeviceSyncMessage (§7.6). nullopt if
    /// the record is gone (acknowledged or expired meanwhile).
    std::optional<outgoing> load_delivery(shm::blob_ref const& ref);
    /// The delivery of `ref` was written to the socket: the sender hears
    /// Delivered if it has not yet.
    void on_delivery_written(shm::blob_ref const& ref);
    /// A notification routed to this connection's routing id.
    void on_notification(shm::notify_entry const& entry);
    /// Queues every blob of the mailbox this connection has not queued yet:
    /// a push to it may have been lost (push_tracker.hpp).
    void catch_up();
    /// For a connection the presence table had no room for, which no push
    /// reaches: tries to record its presence again and catches up. Called by
    /// the worker's sweep, so its blobs arrive within about 250 ms.
    void poll_mailbox();

    bool handshaken() const noexcept { return handshaken_; }
    std::string const& routing_id() const noexcept { return routing_id_; }

private:
    void handle_message(std::string_view frame);
    void handle(protocol::envelope const& e, protocol::encrypted_update const& m);
    void handle(protocol::envelope const& e, protocol::acknowledgment const& m);
    void handle(protocol::envelope const& e, protocol::account_revoked const& m);
    void handle(protocol::envelope const& e, protocol::purge_request const& m);
    void handle(protocol::envelope const& e, protocol::device_sync_message const& m);
    void handle(protocol::envelope const& e, protocol::device_sync_ack const& m);
    void handle(protocol::envelope const& e, protocol::recovery_proof_store const& m);
    void handle(protocol::envelope const& e, protocol::recovery_proof_query const& m);
    /// Every other message a client may send is [SILENT] (docs/protocol.md#s7-12):
    /// overload resolution prefers the handlers above, so a new message type
    /// is ignored until it gets a handler of its own.
    template <typename Ignored>
    void handle(protocol::envelope const&, Ignored const&)
    {
    }
    bool take_recovery_token();
    std::optional<std::string> load_device_sync(shm::blob_ref const& ref);
    void reply_ack(std::string_view acked_message_id, protocol::ack_status status);
    void after_store(shm::put_result const& r, std::string_view recipient);
    void take_listing(shm::mailbox_listing const& listing);

    worker_services& services_;
    session_sink& sink_;
    bool handshaken_ = false;
    bool attached_ = false;
    bool suppress_presence_ = false;
    std::string client_id_;
    std::string device_id_;
    std::string routing_id_;
    push_tracker push_; ///< which of the routing id's blobs are queued
};

} // namespace relay::worker
