#pragma once
// The include/exclude patterns of a sync session.
#include <string_view>

namespace kiln::uploads {

// fnmatch(3) with FNM_PATHNAME on a '/'-separated relative path, segment by segment, plus `**`:
// a whole segment `**` matches zero or more segments (`**/*.jpg` any depth, `raw/**` everything
// under raw/, `a/**/b` a/b, a/x/b, a/x/y/b). Within a segment: `*`, `?`, `[a-z]`, `[!a]`, `\`
// escapes, as fnmatch does; neither `*` nor `?` crosses a '/'. A leading '.' is matched by `*`
// (no FNM_PERIOD). A pattern without '/' therefore matches top-level names only.
bool glob_match(std::string_view pattern, std::string_view path);

}  // namespace kiln::uploads
