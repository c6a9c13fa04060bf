#pragma once
// One record with everything that makes it what it is, outside the store:
// what --export writes, --import and the layout-2 migration read, and what
// store::import_record() puts back with its identity unchanged.

#include <cstdint>
#include <string>
#include <vector>

#include "common/random.hpp"
#include "shm/layout.hpp"

namespace relay::shm {

struct stored_record {
    blob_kind kind = blob_kind::update;
    std::string key;               ///< recipient routing id, client_id or key hash (64 characters)
    std::string sender;            ///< sender routing id, empty for none
    std::string sender_message_id; ///< with a sender only
    random::uuid blob_id{};
    std::uint64_t created_unix = 0;
    bool delivered_sent = false; ///< the Delivered ack was already emitted (D-7)
    std::vector<std::uint8_t> data;
};

} // namespace relay::shm
