#include "tenancy/service.hpp"

namespace asio = boost::asio;

namespace kiln::tenancy {

asio::awaitable<WorkspaceList> Service::list(auth::Principal p) {
    WorkspaceList out;
    out.items = co_await store_.list(p);
    co_return out;
}

asio::awaitable<Workspace> Service::create(auth::Principal p, CreateWorkspace r, audit::Origin origin) {
    const auto id = core::Uuid::v7();
    co_return co_await store_.create(p, id, r.name, origin);
}

asio::awaitable<Workspace> Service::get(auth::Principal p, core::Uuid id) {
    co_return co_await store_.get(p, id);
}

asio::awaitable<Workspace> Service::update(auth::Principal p, core::Uuid id, UpdateWorkspace r, audit::Origin origin) {
    co_return co_await store_.update(p, id, r, origin);
}

asio::awaitable<void> Service::remove(auth::Principal p, core::Uuid id, audit::Origin origin) {
    co_await store_.remove(p, id, origin);
}

asio::awaitable<MemberList> Service::members(auth::Principal p, core::Uuid id) {
    MemberList out;
    out.items = co_await store_.members(p, id);
    co_return out;
}

asio::awaitable<Member> Service::set_role(auth::Principal p, core::Uuid id, core::Uuid user, ChangeRole r,
                                          audit::Origin origin) {
    co_return co_await store_.set_role(p, id, user, r.role, origin);
}

asio::awaitable<void> Service::remove_member(auth::Principal p, core::Uuid id, core::Uuid user, audit::Origin origin) {
    co_await store_.remove_member(p, id, user, origin);
}

}  // namespace kiln::tenancy
