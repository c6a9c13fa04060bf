#pragma once
// What a consistency check of the store's derived structures found.

#include <string>

namespace relay::shm {

struct check_result {
    bool consistent = true;
    std::string problem; ///< empty when consistent

    static check_result failure(std::string problem) { return {false, std::move(problem)}; }
};

/// How deep a check looks: the derived structures only, or also every
/// record's checksum (reads every stored byte).
enum class verify_depth { structure, checksums };

} // namespace relay::shm
