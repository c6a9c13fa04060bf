#include "noise/nk_pattern.hpp"

#include <openssl/crypto.h>

namespace relay::noise::nk {

bool initialize(symmetric_state& ss, std::span<std::uint8_t const> prologue, key const& responder_static)
{
    return ss.ok() && ss.mix_hash(prologue) && ss.mix_hash(responder_static);
}

std::optional<dh_key> make_ephemeral(std::optional<key> const& fixed_private)
{
    return fixed_private ? dh_key::from_private(*fixed_private) : dh_key::generate();
}

bool mix_dh(symmetric_state& ss, dh_key const& local, key const& remote)
{
    key shared{};
    bool const ok = local.agree(remote, shared) && ss.mix_key(shared);
    OPENSSL_cleanse(shared.data(), shared.size());
    return ok;
}

} // namespace relay::noise::nk
