#pragma once
// The records tests/data/layout2/store.gz holds (tests/data/layout2/
// manifest.txt, written by make_image.cpp when the image was made), as the
// stored_record each must become in a layout-3 store.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "shm/device_sync_record.hpp"
#include "shm/stored_record.hpp"

namespace relay::testing {

inline random::uuid uuid_from_hex(std::string const& hex)
{
    random::uuid id{};
    for (std::size_t i = 0; i < id.size() && 2 * i + 1 < hex.size(); ++i)
        id[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    return id;
}

/// make_image.cpp's payload formula.
inline std::vector<std::uint8_t> layout2_bytes(std::size_t n, unsigned seed)
{
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<std::uint8_t>(seed + i * 31 + (i >> 8));
    return v;
}

inline std::vector<shm::stored_record> layout2_manifest(std::string const& path)
{
    std::vector<shm::stored_record> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        std::istringstream f(line);
        std::string kind, key, id;
        std::uint64_t created = 0;
        std::size_t size = 0;
        unsigned seed = 0;
        f >> kind >> key >> id >> created >> size >> seed;
        shm::stored_record r;
        r.key = key;
        r.created_unix = created;
        r.blob_id = uuid_from_hex(id);
        if (kind == "update") {
            int has_sender = 0, delivered = 0;
            std::string sender, msgid;
            f >> has_sender >> sender >> msgid >> delivered;
            r.kind = shm::blob_kind::update;
            if (has_sender) {
                r.sender = sender;
                r.sender_message_id = msgid;
            }
            r.delivered_sent = delivered != 0;
            r.data = layout2_bytes(size, seed);
        } else if (kind == "device_sync") {
            std::string target, from, version;
            f >> target >> from >> version;
            r.kind = shm::blob_kind::device_sync;
            r.data = shm::device_sync_record::pack(target.substr(7), from.substr(5), std::stoull(version.substr(8)),
                                                   layout2_bytes(size, seed));
        } else {
            r.kind = shm::blob_kind::recovery_proof;
            r.data = layout2_bytes(size, seed);
        }
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace relay::testing
