#pragma once
// Whether a server path may be a sync session's source: only directories inside the configured
// uploads.import_roots, judged on the path as the file system resolves it (symlinks followed),
// so that no link, `..` or mount trick reaches past a root. Blocking (realpath, stat): call it
// from the CPU pool, never from an I/O thread.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::uploads {

struct LocalDirectoryCheck {
    std::optional<std::string> resolved;  // the real path, when acceptable
    std::optional<std::string> problem;   // what is wrong, for the field's 422 entry
};

// `path` must be absolute, without '..' components, and resolve to an existing directory equal
// to or below one of `roots` (each resolved too; a root that does not exist admits nothing).
// With no roots at all, server paths are disabled. A path outside every root is answered as
// such whether or not it exists, so the check reveals nothing about the rest of the disk.
LocalDirectoryCheck check_local_directory(std::string_view path, const std::vector<std::string>& roots);

}  // namespace kiln::uploads
