// Blob keys come from users (a file's name, a sync's relative paths). Whatever validate_key
// accepts must name a file strictly inside the local store's root, and the same object in S3:
// its URL path, once decoded, is the key again, with no '.' or '..' segment for a client to fold.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "storage/key.hpp"
#include "storage/model.hpp"
#include "storage/sigv4.hpp"

namespace {

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decoding that insists on what uri_encode writes: %XX in upper case, '/' and
// unreserved bytes as they are.
bool decode(std::string_view encoded, std::string& out) {
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded[i] != '%') {
            out.push_back(encoded[i]);
            continue;
        }
        if (i + 2 >= encoded.size() || hex(encoded[i + 1]) < 0 || hex(encoded[i + 2]) < 0) return false;
        out.push_back(static_cast<char>(hex(encoded[i + 1]) * 16 + hex(encoded[i + 2])));
        i += 2;
    }
    return true;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view key(reinterpret_cast<const char*>(data), size);
    try {
        kiln::storage::validate_key(key);
    } catch (const kiln::storage::InvalidKey&) {
        return 0;
    }
    const std::filesystem::path root("/srv/kiln/blobs");
    const auto file = (root / std::string(key)).lexically_normal();
    const auto inside = file.lexically_relative(root);
    if (inside.empty() || *inside.begin() == ".." || *inside.begin() == "." || file == root) __builtin_trap();

    const kiln::storage::S3Location location("http://127.0.0.1:9000", "bucket", true);
    const auto path = location.path(key);
    std::string decoded;
    if (!decode(path, decoded) || decoded != "/bucket/" + std::string(key)) __builtin_trap();
    for (std::size_t start = 1; start <= path.size();) {
        auto end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        const auto segment = std::string_view(path).substr(start, end - start);
        if (segment == "." || segment == "..") __builtin_trap();
        start = end + 1;
    }
    return 0;
}
