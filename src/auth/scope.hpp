#pragma once
// The tenant scope a request runs under on behalf of a caller: every store builds its scope
// here, so that a session and an API key are each checked live the same way everywhere.
#include <optional>

#include "auth/model.hpp"
#include "db/transaction.hpp"

namespace kiln::auth {

// In `workspace` (none: the caller's own account), requiring `min_role` there (nullptr: no
// membership needed; API keys are then refused, as they act only within their workspace).
inline db::TenantScope scope_of(const Principal& p, std::optional<core::Uuid> workspace,
                                const char* min_role = nullptr) {
    db::TenantScope s;
    s.workspace_id = workspace;
    s.user_id = p.user;
    s.session_id = p.session;
    if (p.api_key) s.api_key_workspace = p.workspace;
    s.min_role = min_role;
    return s;
}

}  // namespace kiln::auth
