#pragma once
// Times on the wire.
#include <string_view>

namespace kiln::core {

// RFC 3339 date-time: 2026-11-24T00:12:56Z, with optional fraction and a Z or ±hh:mm offset.
// Checked before a time reaches PostgreSQL, which would also take "yesterday" or "now".
bool is_rfc3339(std::string_view s);

}  // namespace kiln::core
