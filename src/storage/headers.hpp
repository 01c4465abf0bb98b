#pragma once
// The request headers the file routes parse by hand: Range (GET /files/{id}/content) and tus's
// Upload-Metadata. Pure functions of their text, so that they can be fuzzed alone (fuzz/).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/model.hpp"

namespace kiln::storage {

// One `bytes=first-last`, `bytes=first-` or `bytes=-suffix` range of a `size`-byte file. No
// Range (or several, which we do not serve as multipart/byteranges) means the whole file;
// nullopt inside means unsatisfiable (416).
struct RangeRequest {
    bool whole = true;
    std::optional<ByteRange> range;
};

RangeRequest parse_range(std::string_view header, std::uint64_t size);

// Upload-Metadata: comma-separated `key base64value` pairs (the value may be absent). nullopt when
// malformed (a key with spaces or commas, a value that is not standard base64, a key twice).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_tus_metadata(std::string_view header);

}  // namespace kiln::storage
