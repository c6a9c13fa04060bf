#include "shm/chunk_plan.hpp"

#include <algorithm>

namespace relay::shm {
namespace {

/// Smallest class whose chunk holds `bytes`, or the largest class.
std::uint32_t fitting_class(std::uint64_t bytes)
{
    std::uint32_t cls = 0;
    while (cls + 1 < class_count && chunk_size_of_class(cls) < bytes)
        ++cls;
    return cls;
}

} // namespace

chunk_plan plan_chunks(std::uint64_t head_fixed, std::uint64_t data_bytes)
{
    chunk_plan plan;
    std::uint64_t remaining = data_bytes;
    std::uint64_t fixed = head_fixed; // bytes of this chunk that are not data
    for (;;) {
        std::uint64_t const need = fixed + remaining;
        std::uint32_t const cls = fitting_class(need);
        std::uint64_t const size = chunk_size_of_class(cls);
        if (need <= size) {
            bool const waste_small = size - need <= need / 8;
            // The smaller chunk must hold something, and the head its minimum.
            std::uint64_t const min_held = plan.empty() ? std::min(remaining, head_data_min) : 1;
            bool const can_split = cls > 0 && chunk_size_of_class(cls - 1) >= fixed + min_held;
            if (waste_small || !can_split) {
                plan.push_back({cls, remaining});
                return plan;
            }
            // Fill the largest chunk below the fitting one completely.
            std::uint64_t const held = chunk_size_of_class(cls - 1) - fixed;
            plan.push_back({cls - 1, held});
            remaining -= held;
        } else {
            // Larger than a page: a full page-size chunk, then the rest.
            std::uint64_t const held = size - fixed;
            plan.push_back({cls, held});
            remaining -= held;
        }
        fixed = sizeof(chunk_header);
    }
}

std::uint64_t chunk_bytes_of(chunk_plan const& plan)
{
    std::uint64_t total = 0;
    for (chunk_part const& p : plan)
        total += chunk_size_of_class(p.size_class);
    return total;
}

} // namespace relay::shm
