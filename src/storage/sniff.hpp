#pragma once
// The content type of bytes, from what they are (libmagic), never from what a client declares.
#include <string>
#include <string_view>

namespace kiln::storage {

// How many leading bytes sniff() needs to recognise the usual formats.
constexpr std::size_t kSniffBytes = 8192;

// The MIME type of a file starting with `head` ("image/png", "text/plain", …);
// "application/octet-stream" when nothing matches. Blocking (libmagic loads its database on a
// thread's first call): run it on the CPU pool.
std::string sniff(std::string_view head);

}  // namespace kiln::storage
