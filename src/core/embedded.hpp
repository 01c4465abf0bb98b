#pragma once
// Files compiled into the binary (see cmake/embed.cmake).
#include <span>
#include <string_view>

namespace kiln::core {

struct EmbeddedFile {
    std::string_view name;
    std::string_view data;
};

std::span<const EmbeddedFile> embedded_migrations();
std::span<const EmbeddedFile> embedded_web();
std::span<const EmbeddedFile> embedded_auth();

}  // namespace kiln::core
