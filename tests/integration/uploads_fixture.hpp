#pragma once
// What the Data Uploader's integration tests share: people of two workspaces, the stores and the
// service over the test database, and the calls that make a project and a cycle.
#include <fmt/format.h>

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "modules/uploads/service.hpp"
#include "pg_fixture.hpp"

namespace kiln::uploads::testing {

inline const audit::Origin kOrigin{"127.0.0.1", "pgtest"};

using kiln::testing::Person;

// The fields a call's 422 names, in order ({} when it did not fail with 422).
template <typename T>
boost::asio::awaitable<std::vector<std::string>> fields_of(boost::asio::awaitable<T> call) {
    std::vector<std::string> out;
    try {
        co_await std::move(call);
    } catch (const core::Problem& p) {
        if (p.status() == 422) {
            for (const auto& e : p.errors()) out.push_back(e.field);
        }
    }
    co_return out;
}

// An admin, owner, member and viewer of `workspace` and an owner of `other`, seeded as members;
// the service allows the server directories import_roots() names.
class UploadsFixture : public kiln::testing::StoreTest<Store> {
protected:
    UploadsFixture(core::Uuid workspace, core::Uuid other)
        : admin_{.workspace = workspace, .role = "admin"},
          owner_{.workspace = workspace, .role = "owner"},
          member_{.workspace = workspace, .role = "member"},
          viewer_{.workspace = workspace, .role = "viewer"},
          outsider_{.workspace = other, .role = "owner"} {}

    void SetUp() override {
        StoreTest::SetUp();
        for (auto* p : {&admin_, &owner_, &member_, &viewer_, &outsider_})
            seed_member(p->user, p->workspace, p->session, p->role);
        sync_store_ = std::make_unique<SyncStore>(*pool_);
        service_ = std::make_unique<Service>(*store_, *sync_store_, blocking_, import_roots());
    }
    void TearDown() override {
        service_.reset();
        sync_store_.reset();
        StoreTest::TearDown();
    }
    virtual std::vector<std::string> import_roots() const { return {}; }

    std::string su(const std::string& sql) {
        kiln::testing::AdminConnection c(superuser_conninfo());
        return c.exec(sql);
    }
    Project project(const Person& p, std::string name) {
        ProjectInput in;
        in.name = std::move(name);
        return run(service_->create_project(p.principal(), in, kOrigin));
    }
    static CycleInput cycle_input(const core::Uuid& project, std::int64_t number) {
        CycleInput in;
        in.project_id = project;
        in.cycle_name = fmt::format("Cycle {}", number);
        in.cycle_number = number;
        return in;
    }
    Cycle cycle(const Person& p, const core::Uuid& project, std::int64_t number) {
        return run(service_->create_cycle(p.principal(), cycle_input(project, number), kOrigin));
    }

    Person admin_, owner_, member_, viewer_, outsider_;
    std::unique_ptr<SyncStore> sync_store_;
    std::unique_ptr<Service> service_;
};

}  // namespace kiln::uploads::testing
