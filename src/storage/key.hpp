#pragma once
#include <cstddef>
#include <string_view>

namespace kiln::storage {

constexpr std::size_t kMaxKeyBytes = 1024;  // S3's limit

// Throws InvalidKey unless `key` is 1..1024 bytes, relative ('/'-separated segments, none empty,
// "." or ".."), and free of control characters: the same key then names the same file under a
// local root (never outside it) and the same object in S3.
void validate_key(std::string_view key);

// Throws std::invalid_argument unless `hex` is a SHA-256 as put() takes it: 64 lowercase hex digits.
void validate_sha256_hex(std::string_view hex);

}  // namespace kiln::storage
