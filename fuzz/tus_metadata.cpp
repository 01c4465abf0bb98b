// tus's Upload-Metadata: what parses comes back the same when written again (keys as they were,
// values base64'd) and parsed a second time; keys are never empty or repeated.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/crypto.hpp"
#include "storage/headers.hpp"

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view header(reinterpret_cast<const char*>(data), size);
    const auto pairs = kiln::storage::parse_tus_metadata(header);
    if (!pairs) return 0;
    std::string again;
    for (const auto& [key, value] : *pairs) {
        if (key.empty()) __builtin_trap();
        if (!again.empty()) again += ',';
        again += key;
        if (!value.empty()) again += ' ' + kiln::core::base64_encode(value);
    }
    const auto reparsed = kiln::storage::parse_tus_metadata(again);
    if (!reparsed || *reparsed != *pairs) __builtin_trap();
    return 0;
}
