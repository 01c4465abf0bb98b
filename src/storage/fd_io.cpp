#include "storage/fd_io.hpp"

#include <fmt/format.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/model.hpp"

namespace kiln::storage {

namespace {

[[noreturn]] void fail(std::string_view what) {
    throw StorageError(fmt::format("{}: {}", what, std::strerror(errno)));
}

}  // namespace

void write_all(int fd, std::string_view data, std::string_view what) {
    while (!data.empty()) {
        const auto w = ::write(fd, data.data(), data.size());
        if (w < 0) {
            if (errno == EINTR) continue;
            fail(what);
        }
        data.remove_prefix(static_cast<std::size_t>(w));
    }
}

std::size_t read_at(int fd, char* data, std::size_t n, std::uint64_t offset, std::string_view what) {
    std::size_t got = 0;
    while (got < n) {
        const auto r = ::pread(fd, data + got, n - got, static_cast<off_t>(offset + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            fail(what);
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return got;
}

}  // namespace kiln::storage
