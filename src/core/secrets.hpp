#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace kiln::core {

// Initialises libsodium; call once before any other crypto.
void init_crypto();
// `bytes` random bytes as unpadded base64url.
std::string random_token(std::size_t bytes);
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace kiln::core
