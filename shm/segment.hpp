#pragma once
// Maps the store into this process with Boost.Interprocess: a file in the data
// directory (survives restarts) or a POSIX shared memory object (volatile).
// Only the mapping comes from Boost; the layout inside is ours (layout.hpp) and
// no Boost lock or allocator ever runs on it (docs/architecture.md#design-2-1).

#include <boost/interprocess/mapped_region.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "shm/layout.hpp"

namespace relay::shm {

/// The sizes of a store. The arena's size and the shard count are fixed when
/// a store is created (the arena may grow later); the tail's sizes apply at
/// every start (the tail is laid out again when they change).
struct geometry {
    std::uint32_t shard_count = 32;
    std::uint64_t arena_bytes = 1ull << 30;
    std::uint32_t rate_table_entries = 1u << 14;
    std::uint32_t presence_capacity = 1u << 8; ///< per shard
};

/// Whether opening a store allocates all of it in its filesystem up front
/// (shm/space_reservation.hpp says why the relay does) or leaves it sparse.
enum class backing { lazy, reserved };

/// Why a store could not be opened; each message says what the operator can
/// do. A std::exception, so that no path can lose the message to a generic
/// "unknown error".
struct open_error : std::runtime_error {
    open_error(std::string const& why) : std::runtime_error(why), message(why) {}
    std::string message;
};

/// The store file exists but fails its checks (a damaged header, a geometry
/// that does not fit the file, a failed verification): the relay refuses it
/// untouched and exits with code 3.
struct damaged_store : open_error {
    using open_error::open_error;
};

/// A store of layout version 2 (every release before Store v2) was found: the
/// caller migrates it (shm/legacy_layout2.hpp) instead of opening it.
struct legacy_store_found {
    std::string path;
};

/// What opening an existing store changed.
struct open_report {
    bool created = false;
    bool tail_relaid = false;           ///< soft state started empty (new shape or binary)
    std::uint64_t grown_from_pages = 0; ///< the arena grew from this many pages (0: it did not)
    bool header_restored = false;       ///< the header failed its checksum and was restored from its copy
};

class segment final {
public:
    segment() = default;
    segment(segment&&) noexcept = default;
    segment& operator=(segment&&) noexcept = default;
    segment(segment const&) = delete;
    segment& operator=(segment const&) = delete;

    /// Opens `path` if it exists, otherwise creates and formats it with `g`.
    /// An existing store keeps its records; its arena grows to g.arena_bytes
    /// if that is larger (never shrinks: refused), and its tail is laid out
    /// again if its shape differs from `g`'s. With backing::reserved, a store
    /// that cannot be reserved in full is refused (and one being created is
    /// removed again). Throws open_error or legacy_store_found.
    static segment open_or_create_file(std::string const& path, geometry const& g, open_report& report,
                                       backing policy = backing::lazy);
    /// Maps an existing store as it is, for reading or checking while a relay
    /// may run: validated, never resized or laid out again. Throws open_error.
    static segment open_existing_file(std::string const& path);
    /// Creates (replacing any stale object of that name) a POSIX shm store,
    /// allocated in full (a /dev/shm too small for it throws open_error).
    static segment create_memory(std::string const& name, geometry const& g);
    /// Removes a POSIX shm object by name (the supervisor's job at exit).
    static void remove_memory(std::string const& name);

    std::uint8_t* base() const noexcept { return static_cast<std::uint8_t*>(region_.get_address()); }
    std::size_t size() const noexcept { return region_.get_size(); }
    bool valid() const noexcept { return region_.get_address() != nullptr; }
    store_header& header() const noexcept { return *reinterpret_cast<store_header*>(base()); }

    /// All of the store is allocated in its filesystem (a memory store, or a
    /// file opened with backing::reserved on a filesystem that can allocate
    /// ahead).
    bool space_reserved() const noexcept { return space_reserved_; }

    /// Schedules write-back of dirty pages (msync MS_ASYNC).
    void flush_async();

private:
    explicit segment(boost::interprocess::mapped_region region) : region_(std::move(region)) {}
    boost::interprocess::mapped_region region_;
    bool space_reserved_ = false;
};

/// Bytes a store of geometry `g` occupies.
std::uint64_t segment_size(geometry const& g);
/// Lays out an all-zero segment and writes the stamp (magic) last.
void format(std::uint8_t* base, std::uint64_t size, geometry const& g);
/// Checks the header against the file: magic, version, fingerprint, and every
/// field that sizes or places something; throws damaged_store naming the field.
void validate(std::uint8_t const* base, std::uint64_t size, std::string const& what);
/// The checksum a header's identity must carry (store_header::identity_crc).
std::uint32_t header_identity_crc(store_header const& h);
/// What opening does to a store of `size` bytes already mapped at `base`
/// whose tail has the shape of `g`: the header and the arena are checked
/// (damaged_store), and a tail that does not hold is laid out again (returns
/// true). Recovery (store::recover_unshared) comes next.
bool check_in_place(std::uint8_t* base, std::uint64_t size, geometry const& g, std::string const& what);

} // namespace relay::shm
