#include "tenancy/model.hpp"

#include "auth/model.hpp"

namespace kiln::tenancy {

bool is_role(const std::string& role) {
    return role == "owner" || role == "admin" || role == "member" || role == "viewer";
}

void CreateWorkspace::validate(core::Validator& v) const {
    auth::check_name(v, "name", name);
}

void UpdateWorkspace::validate(core::Validator& v) const {
    if (name) auth::check_name(v, "name", *name);
}

void ChangeRole::validate(core::Validator& v) const {
    if (!is_role(role)) v.add("role", "must be one of owner, admin, member, viewer");
}

}  // namespace kiln::tenancy
