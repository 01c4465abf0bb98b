#include "storage/sniff.hpp"

#include <magic.h>

#include <memory>
#include <stdexcept>

namespace kiln::storage {

namespace {

struct MagicClose {
    void operator()(magic_t m) const { magic_close(m); }
};
using Magic = std::unique_ptr<std::remove_pointer_t<magic_t>, MagicClose>;

// A libmagic cookie is not thread-safe: one per thread, loaded on first use.
magic_t cookie() {
    thread_local Magic magic = [] {
        Magic m(magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS));
        if (!m || magic_load(m.get(), nullptr) != 0) throw std::runtime_error("libmagic: cannot load its database");
        return m;
    }();
    return magic.get();
}

}  // namespace

std::string sniff(std::string_view head) {
    if (head.empty()) return "application/octet-stream";
    const char* type = magic_buffer(cookie(), head.data(), head.size());
    if (type == nullptr) return "application/octet-stream";
    std::string out(type);
    if (out.empty() || out == "application/x-empty") return "application/octet-stream";
    return out;
}

}  // namespace kiln::storage
