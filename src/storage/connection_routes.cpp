// /api/v1/storage-connections: the workspace's own buckets (viewers read; admins manage and test).
#include "storage/connection_routes.hpp"

#include "audit/origin.hpp"
#include "http/json.hpp"

namespace asio = boost::asio;

namespace kiln::storage {

namespace {

struct Deps {
    const auth::Service* auth;
    ConnectionService* connections;
};

constexpr std::string_view kNotFound = "No such storage connection.";

asio::awaitable<http::Response> do_create(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    auto body = http::bind_body<CreateStorageConnection>(req);
    const auto origin = audit::origin_of(req);
    auto made = co_await d.connections->create(who, std::move(body), origin);
    co_return http::json_response(201, http::to_json(made));
}

asio::awaitable<http::Response> do_list(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    ConnectionListQuery q{req.query_param("limit"), req.query_param("cursor")};
    auto list = co_await d.connections->list(who, std::move(q));
    co_return http::json_response(200, http::to_json(list));
}

asio::awaitable<http::Response> do_get(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNotFound);
    auto found = co_await d.connections->get(who, id);
    co_return http::json_response(200, http::to_json(found));
}

asio::awaitable<http::Response> do_update(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNotFound);
    auto body = http::bind_body<UpdateStorageConnection>(req);
    const auto origin = audit::origin_of(req);
    auto changed = co_await d.connections->update(who, id, std::move(body), origin);
    co_return http::json_response(200, http::to_json(changed));
}

asio::awaitable<http::Response> do_delete(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNotFound);
    const auto origin = audit::origin_of(req);
    co_await d.connections->remove(who, id, origin);
    co_return http::Response{http::beast_http::status::no_content, 11};
}

asio::awaitable<http::Response> do_test(Deps d, http::Request& req) {
    const auto who = co_await d.auth->authenticate(req.header_value("Authorization"));
    const auto id = req.uuid_param("id", kNotFound);
    const auto origin = audit::origin_of(req);
    auto result = co_await d.connections->test(who, id, origin);
    co_return http::json_response(200, http::to_json(result));
}

constexpr const char* kSecretNote =
    "The secret access key is sealed (libsodium crypto_secretbox under the server's storage.master_key) before it "
    "is stored, and no answer ever contains it: `secret_set` says one is set, `access_key_id_last4` tells keys "
    "apart. Without storage.master_key, creating, changing and testing answer 503.";

}  // namespace

void add_connection_routes(http::Router& router, const auth::Service& auth, ConnectionService& service) {
    const Deps d{&auth, &service};
    const std::string path = "/api/v1/storage-connections";
    router.add({.method = http::Verb::post,
                .path = path,
                .summary = "Add an S3-compatible bucket the workspace's work may use (admin); the endpoint's host must "
                           "be one storage.connection_hosts allows",
                .tag = "storage",
                .request = http::json_body<CreateStorageConnection>(),
                .status = 201,
                .response = http::json_body<StorageConnection>(),
                .handler = [d](http::Request& r) { return do_create(d, r); },
                .description = kSecretNote});
    router.add({.method = http::Verb::get,
                .path = path,
                .summary = "The workspace's storage connections, newest first (?limit=, ?cursor=)",
                .tag = "storage",
                .response = http::json_body<StorageConnectionList>(),
                .handler = [d](http::Request& r) { return do_list(d, r); }});
    router.add({.method = http::Verb::get,
                .path = path + "/{id}",
                .summary = "One storage connection (without its secret)",
                .tag = "storage",
                .response = http::json_body<StorageConnection>(),
                .handler = [d](http::Request& r) { return do_get(d, r); }});
    router.add({.method = http::Verb::patch,
                .path = path + "/{id}",
                .summary = "Change a storage connection (admin); a new secret_access_key replaces the sealed one",
                .tag = "storage",
                .request = http::json_body<UpdateStorageConnection>(),
                .response = http::json_body<StorageConnection>(),
                .handler = [d](http::Request& r) { return do_update(d, r); },
                .description = kSecretNote});
    router.add({.method = http::Verb::delete_,
                .path = path + "/{id}",
                .summary = "Delete a storage connection (admin): its sealed secret is erased, its name free again",
                .tag = "storage",
                .status = 204,
                .response = http::Body{"application/json", std::nullopt},
                .handler = [d](http::Request& r) { return do_delete(d, r); }});
    router.add({.method = http::Verb::post,
                .path = path + "/{id}/test",
                .summary = "Check a storage connection (admin): writes, reads back and removes a small object under "
                           ".kiln-probe/; 200 with ok true and the latency, or ok false and the reason",
                .tag = "storage",
                .response = http::json_body<ConnectionTestResult>(),
                .handler = [d](http::Request& r) { return do_test(d, r); }});
}

}  // namespace kiln::storage
