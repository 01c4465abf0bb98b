#pragma once
// Whole reads and writes on file descriptors (blocking: for the file pool), retrying what the
// kernel does short or interrupted. Failures throw StorageError naming `what` and errno's text.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kiln::storage {

void write_all(int fd, std::string_view data, std::string_view what);
// Up to data.size() bytes at `offset`, fewer only at the end of the file.
std::size_t read_at(int fd, char* data, std::size_t n, std::uint64_t offset, std::string_view what);

}  // namespace kiln::storage
