#include "tenancy/model.hpp"

#include "auth/model.hpp"
#include "auth/password.hpp"
#include "core/time.hpp"

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

void CreateManagedUser::validate(core::Validator& v) const {
    auth::check_email(v, "email", email);
    auth::check_name(v, "name", name);
    if (username) auth::check_username(v, "username", *username);
    if (!is_role(role)) v.add("role", "must be one of owner, admin, member, viewer");
    if (temporary_password) {
        auth::check_password_policy(v, "temporary_password", *temporary_password, auth::normalize_email(email), name);
    }
}

void UpdateManagedUser::validate(core::Validator& v) const {
    if (name) auth::check_name(v, "name", *name);
    if (username) auth::check_username(v, "username", *username);
}

void CreateInvitation::validate(core::Validator& v) const {
    auth::check_email(v, "email", email);
    if (!is_role(role)) v.add("role", "must be one of owner, admin, member, viewer");
}

void AcceptInvitation::validate(core::Validator& v) const {
    auth::check_token(v, "token", token);
}

void ChangeRole::validate(core::Validator& v) const {
    if (!is_role(role)) v.add("role", "must be one of owner, admin, member, viewer");
}

void CreateApiKey::validate(core::Validator& v) const {
    auth::check_name(v, "name", name);
    if (role != "admin" && role != "member" && role != "viewer") v.add("role", "must be one of admin, member, viewer");
    if (expires_at && !core::is_rfc3339(*expires_at)) v.add("expires_at", "must be an RFC 3339 time");
}

}  // namespace kiln::tenancy
