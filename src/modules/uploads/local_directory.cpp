#include "modules/uploads/local_directory.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

namespace kiln::uploads {

namespace {

constexpr std::size_t kMaxPath = 4096;

struct FreeDeleter {
    void operator()(char* p) const { std::free(p); }  // NOLINT(cppcoreguidelines-no-malloc): realpath's buffer
};

// realpath(3) with its own buffer; nullopt and errno set when the path does not resolve.
std::optional<std::string> real_path(const std::string& path) {
    std::unique_ptr<char, FreeDeleter> out(::realpath(path.c_str(), nullptr));
    if (!out) return std::nullopt;
    return std::string(out.get());
}

bool has_dot_dot(std::string_view path) {
    for (std::size_t start = 0; start <= path.size();) {
        const auto slash = std::min(path.find('/', start), path.size());
        if (path.substr(start, slash - start) == "..") return true;
        start = slash + 1;
    }
    return false;
}

bool within(std::string_view path, std::string_view root) {
    if (root == "/") return true;
    return path == root || (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/');
}

LocalDirectoryCheck refuse(std::string message) {
    return {std::nullopt, std::move(message)};
}

}  // namespace

LocalDirectoryCheck check_local_directory(std::string_view path, const std::vector<std::string>& roots) {
    if (roots.empty()) {
        return refuse(
            "server paths are disabled on this server (uploads.import_roots is empty); upload the files "
            "through the API instead");
    }
    if (path.empty() || path.front() != '/') return refuse("must be an absolute path");
    if (path.size() > kMaxPath || path.find('\0') != std::string_view::npos)
        return refuse("must be at most 4096 bytes, without NUL");
    if (has_dot_dot(path)) return refuse("must not contain '..' components");

    std::vector<std::string> real_roots;
    for (const auto& r : roots) {
        if (auto rr = real_path(r)) real_roots.push_back(std::move(*rr));
    }
    const auto inside_a_root = [&](std::string_view p) {
        return std::any_of(real_roots.begin(), real_roots.end(), [&](const auto& r) { return within(p, r); }) ||
               std::any_of(roots.begin(), roots.end(), [&](const auto& r) { return within(p, r); });
    };
    const std::string outside = "is not inside one of the server's import roots (uploads.import_roots)";
    const auto resolved = real_path(std::string(path));
    if (!resolved) {
        // Said only of a path that would have been inside a root: elsewhere, existence is not ours to tell.
        if (!inside_a_root(path)) return refuse(outside);
        return refuse(errno == ENOENT ? "does not exist" : "cannot be resolved");
    }
    const bool inside =
        std::any_of(real_roots.begin(), real_roots.end(), [&](const auto& r) { return within(*resolved, r); });
    if (!inside) return refuse(outside + (*resolved != path ? " once its symbolic links are followed" : ""));
    struct stat st {};
    if (::stat(resolved->c_str(), &st) != 0) return refuse("cannot be resolved");
    if (S_ISFIFO(st.st_mode)) return refuse("is a FIFO, not a directory");
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return refuse("is a device, not a directory");
    if (!S_ISDIR(st.st_mode)) return refuse("is not a directory");
    return {resolved, std::nullopt};
}

}  // namespace kiln::uploads
