// The Range header of a file download: whatever the header, the answer is the whole file, a
// 416, or one range inside the file. The first 8 bytes of the input are the file's size.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "storage/headers.hpp"

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < sizeof(std::uint64_t)) return -1;
    std::uint64_t file_size = 0;
    std::memcpy(&file_size, data, sizeof file_size);
    const std::string_view header(reinterpret_cast<const char*>(data) + sizeof file_size, size - sizeof file_size);
    const auto r = kiln::storage::parse_range(header, file_size);
    if (r.whole && r.range) __builtin_trap();
    if (r.range && (!r.range->last || r.range->first > *r.range->last || *r.range->last >= file_size)) {
        __builtin_trap();
    }
    return 0;
}
