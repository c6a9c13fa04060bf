#pragma once
// The file `vauchi-relay --export` writes and `--import` reads: every record
// of a store with its metadata, versioned and checksummed (docs/store.md,
// "Upgrades from layout 2"). Little-endian throughout:
//
//   header   "VRLYEXP\0" | u32 format version (1) | u32 0 | u64 created (Unix s)
//   records  u32 length of what follows up to its checksum
//            u8 kind | u8 flags (1 sender, 2 Delivered sent) | u16 message id length | u32 0
//            key[64] | sender[64] (zeros without one) | blob id[16] | u64 created | u64 data length
//            sender message id | data | u32 CRC32C of the record from `kind` on
//   trailer  "VRLYEND\0" | u64 records | u64 data bytes | u32 CRC32C of every byte before the trailer

#include <cstdint>
#include <cstdio>
#include <string>

#include "shm/stored_record.hpp"

namespace relay::shm {

/// Why a record file could not be written or read, with what to do.
struct record_file_error {
    std::string message;
};

class record_file_writer {
public:
    /// Creates `path` (it must not exist: an export never overwrites).
    explicit record_file_writer(std::string const& path);
    ~record_file_writer();
    record_file_writer(record_file_writer const&) = delete;
    record_file_writer& operator=(record_file_writer const&) = delete;

    void write(stored_record const& r);
    /// Writes the trailer and syncs the file to disk.
    void finish();
    std::uint64_t records() const noexcept { return records_; }
    std::uint64_t data_bytes() const noexcept { return data_bytes_; }

private:
    void put(void const* bytes, std::size_t n);
    std::string path_;
    std::FILE* file_ = nullptr;
    std::uint32_t crc_ = ~0u;
    std::uint64_t records_ = 0, data_bytes_ = 0;
    bool finished_ = false;
};

class record_file_reader {
public:
    explicit record_file_reader(std::string const& path);
    ~record_file_reader();
    record_file_reader(record_file_reader const&) = delete;
    record_file_reader& operator=(record_file_reader const&) = delete;

    /// The next record; false at the trailer, once it has verified (count
    /// and checksum of the whole file). Throws record_file_error on damage.
    bool next(stored_record& r);

private:
    void get(void* bytes, std::size_t n);
    std::string path_;
    std::FILE* file_ = nullptr;
    std::uint32_t crc_ = ~0u;
    std::uint64_t records_ = 0, data_bytes_ = 0;
};

} // namespace relay::shm
