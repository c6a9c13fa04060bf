#pragma once
// The checksum every record carries (docs/store.md, "Checksums"): CRC32C,
// with the SSE4.2 instruction where the CPU has it, seeded with a secret of
// the store so that bytes a client plants inside its ciphertext can never
// pass for a record.

#include <cstddef>
#include <cstdint>
#include <span>

#include "shm/layout.hpp"

namespace relay::shm {

/// Extends a CRC32C (Castagnoli, reflected, no final xor here) over `n` bytes.
std::uint32_t crc32c_extend(std::uint32_t crc, void const* data, std::size_t n) noexcept;
/// True if crc32c_extend uses the CPU's CRC32 instruction.
bool crc32c_in_hardware() noexcept;

/// Accumulates a record's checksum over its immutable fields, its sender
/// message id and its data, in that order, wherever they are stored.
class record_checksum {
public:
    record_checksum(std::uint64_t seed, chunk_header const& head, blob_meta const& meta) noexcept;
    void add(void const* data, std::size_t n) noexcept { crc_ = crc32c_extend(crc_, data, n); }
    void add(std::span<std::uint8_t const> bytes) noexcept { add(bytes.data(), bytes.size()); }
    std::uint32_t value() const noexcept { return ~crc_; }

private:
    std::uint32_t crc_;
};

} // namespace relay::shm
