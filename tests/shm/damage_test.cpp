// Damage at rest (docs/store.md, "Geometry is validated at open" and
// "Checksums"): bytes, words and whole pages of a real store image are
// damaged, headers included, and the image is then opened and recovered as
// at start and every record is read. The outcome must be a clean refusal or
// a store whose every record is intact: never a signal, a hang or a
// corrupted delivery. Seeded and deterministic; VAUCHI_DAMAGE_CASES sets how
// many cases run (CI: 600).

#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "shm/segment.hpp"
#include "store_images.hpp"

using namespace relay::shm;
using namespace relay::shm::testing;

namespace {

struct damaged_store_fixture {
    damaged_store_fixture() : g(small_geometry(4u << 20, 4)), s(g), rng(7)
    {
        for (int i = 0; i < 8; ++i)
            reg.keys.push_back(key(static_cast<char>('a' + i)));
        store_records(s.st, reg, rng, 120);
        delete_records(s.st, reg, rng, 40);
        store_records(s.st, reg, rng, 40);
        s.st.header().clean_shutdown.store(1);
        pristine = std::make_unique<store_image>(s.seg.base(), s.seg.size());
    }

    /// Opens and recovers `image` as the relay does at start. True if it
    /// came up (every record then checked), false if cleanly refused.
    bool open_and_check(store_image& image)
    {
        lost = 0;
        try {
            check_in_place(image.data(), image.size(), g, "damaged image");
        } catch (damaged_store const&) {
            return false;
        }
        store st(image.data());
        st.recover_unshared({});
        if (!st.check_all(verify_depth::checksums).consistent)
            return false; // the relay refuses it with exit code 3
        lost = reg.live.size() - check_recovered(st, reg).size();
        return true;
    }

    std::uint64_t lost = 0; ///< live records the last open_and_check() did not find

    geometry g;
    scratch_store s;
    std::mt19937 rng;
    record_registry reg;
    std::unique_ptr<store_image> pristine;
};

/// A continuation chunk that is not the first chunk of its page (that one
/// also carries the page's identity: damaging it costs the whole page's
/// records, which the random cases cover).
std::uint64_t a_continuation(store& st, record_registry const& reg)
{
    for (auto const& key : reg.keys)
        for (auto const& ref : st.attach(key, 2).pending) {
            auto s = st.shard(ref.shard);
            for (std::uint64_t part = s.chunk(ref.offset)->next; part != 0; part = s.chunk(part)->next)
                if (part % page_size != 0) // the arena starts one page in: pages are page-aligned
                    return part;
        }
    return 0;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(damage, damaged_store_fixture)

BOOST_AUTO_TEST_CASE(random_damage_to_a_real_image_is_refused_or_recovered_never_served)
{
    int const cases = std::getenv("VAUCHI_DAMAGE_CASES") ? std::atoi(std::getenv("VAUCHI_DAMAGE_CASES")) : 600;
    std::uint64_t const arena_end =
        pristine->data() ? reinterpret_cast<store_header const*>(pristine->data())->tail_offset : 0;
    store_image image(pristine->data(), pristine->size());
    int refused = 0, recovered = 0;
    std::uint64_t lost = 0;
    std::mt19937 damage(99);
    for (int c = 0; c < cases; ++c) {
        image.copy_from(*pristine);
        auto const at = [&](std::uint64_t limit) { return damage() % limit; };
        switch (c % 5) {
        case 0: // a few bits anywhere in the file
            for (int k = 1 + damage() % 8; k > 0; --k)
                image.data()[at(image.size())] ^= static_cast<std::uint8_t>(1u << (damage() % 8));
            break;
        case 1: // the header page
            image.data()[at(sizeof(store_header))] ^= static_cast<std::uint8_t>(1 + damage() % 255);
            break;
        case 2: { // a word in the arena
            std::uint64_t const word = damage() | (std::uint64_t{damage()} << 32);
            std::memcpy(image.data() + page_size + at(arena_end - page_size - 8) / 8 * 8, &word, 8);
            break;
        }
        case 3: { // a whole 4 KiB page of header or arena, random or zero
            std::uint8_t* page = image.data() + at(arena_end / 4096) * 4096;
            bool const zero = damage() % 2;
            for (int i = 0; i < 4096; ++i)
                page[i] = zero ? 0 : static_cast<std::uint8_t>(damage());
            break;
        }
        case 4: // chunk headers: a byte among the first 48 of a 256-byte unit
            image.data()[page_size + at((arena_end - page_size) / 256) * 256 + at(48)] ^=
                static_cast<std::uint8_t>(1 + damage() % 255);
            break;
        }
        (open_and_check(image) ? recovered : refused) += 1;
        lost += this->lost;
    }
    BOOST_TEST_MESSAGE("damage: " << cases << " images, " << recovered << " recovered (every record served "
                                  << "byte-identical; " << lost << " of " << recovered * reg.live.size()
                                  << " records lost to the damage), " << refused
                                  << " refused cleanly; 0 signals, 0 hangs, 0 corrupted deliveries");
    BOOST_TEST(recovered > 0);
}

BOOST_AUTO_TEST_CASE(a_continuation_whose_size_class_is_off_by_64_or_by_1_costs_only_its_record)
{
    for (int delta : {64, -64, 1, -1}) {
        BOOST_TEST_CONTEXT("size_class " << delta)
        {
            store_image image(pristine->data(), pristine->size());
            store view(image.data());
            std::uint64_t const part = a_continuation(view, reg);
            BOOST_REQUIRE(part != 0u);
            auto* c = reinterpret_cast<chunk_header*>(image.data() + part);
            c->size_class = static_cast<std::uint8_t>(c->size_class + delta);
            BOOST_TEST(open_and_check(image)); // the relay comes up; only that record is gone
            store st(image.data());
            std::uint64_t records = 0;
            st.for_each_record([&](stored_record const&) { ++records; });
            BOOST_TEST(records == reg.live.size() - 1);
            BOOST_TEST(st.header().records_dropped[static_cast<std::size_t>(drop_reason::structure)].load() == 1u);
            // The store goes on: every page is still owned by exactly one shard.
            for (int i = 0; i < 20; ++i)
                BOOST_TEST(static_cast<int>(st.put(request(reg.keys[0], bytes_of(3000, 1))).status) ==
                           static_cast<int>(put_status::stored));
            BOOST_TEST(verified(st, verify_depth::checksums));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_wrong_page_count_is_restored_from_the_copy_or_refused_naming_the_field)
{
    for (std::uint32_t wrong : {0u, 65u, 1000000u, 0xffffffffu}) {
        BOOST_TEST_CONTEXT("page_count " << wrong)
        {
            // The header alone: its checksum fails, the copy restores it.
            store_image image(pristine->data(), pristine->size());
            reinterpret_cast<store_header*>(image.data())->page_count = wrong;
            BOOST_TEST(open_and_check(image));
            store st(image.data());
            std::uint64_t records = 0;
            st.for_each_record([&](stored_record const&) { ++records; });
            BOOST_TEST(records == reg.live.size());
            // Header and copy both wrong and sealed (no checksum can tell):
            // the geometry checks refuse it, naming the field, never a segfault.
            store_image sealed(pristine->data(), pristine->size());
            for (std::uint64_t at : {std::uint64_t{0}, header_copy_offset}) {
                auto& h = *reinterpret_cast<store_header*>(sealed.data() + at);
                h.page_count = wrong;
                h.identity_crc = header_identity_crc(h);
            }
            BOOST_CHECK_EXCEPTION(check_in_place(sealed.data(), sealed.size(), g, "damaged image"), damaged_store,
                                  [](damaged_store const& e) {
                                      return e.message.find("page_count") != std::string::npos ||
                                          e.message.find("arena_bytes") != std::string::npos;
                                  });
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
