#include "http/router.hpp"

#include <gtest/gtest.h>

#include "http/openapi.hpp"
#include "support/run.hpp"

namespace kiln::http {

struct Note {
    std::string text;
};
BOOST_DESCRIBE_STRUCT(Note, (), (text))

namespace {

boost::asio::awaitable<Response> echo_id(Request& req) {
    co_return json_response(200, json::object{{"id", req.param("id")}, {"route", req.route}});
}

boost::asio::awaitable<Response> create_note(Request& req) {
    auto note = bind_body<Note>(req);
    co_return json_response(201, to_json(note));
}

boost::asio::awaitable<Response> explode(Request& /*req*/) {
    throw std::runtime_error("secret internal detail");
    co_return Response{};
}

boost::asio::awaitable<Response> unavailable(Request& /*req*/) {
    throw core::Unavailable("pool exhausted");
    co_return Response{};
}

class RouterTest : public ::testing::Test {
protected:
    RouterTest() {
        router.add(
            {.method = Verb::get, .path = "/items/{id}", .summary = "Get item", .tag = "items", .handler = echo_id});
        router.add({.method = Verb::delete_, .path = "/items/{id}", .summary = "Delete item", .handler = echo_id});
        router.add({.method = Verb::post,
                    .path = "/notes",
                    .summary = "Create note",
                    .request = json_body<Note>(),
                    .status = 201,
                    .response = json_body<Note>(),
                    .handler = create_note});
        router.add({.method = Verb::get, .path = "/boom", .summary = "Fails", .handler = explode});
        router.add({.method = Verb::get, .path = "/down", .summary = "Unavailable", .handler = unavailable});
        router.add({.method = Verb::get, .path = "/hidden", .summary = "Hidden", .handler = echo_id, .hidden = true});
    }

    Response call(Verb method, const std::string& path, std::string body = {}, std::string type = {}) {
        header.method(method);
        header.target(path);
        if (!type.empty()) header.set(beast_http::field::content_type, type);
        Request req(header, std::move(body));
        req.path = path;
        req.request_id = "req-1";
        return kiln::testing::run(router.dispatch(req, router.match(method, path)));
    }

    static json::value body(const Response& r) { return json::parse(r.body()); }

    Router router;
    Header header;
};

TEST_F(RouterTest, PathParameters) {
    auto res = call(Verb::get, "/items/42");
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(body(res).at("id").as_string(), "42");
    EXPECT_EQ(body(res).at("route").as_string(), "/items/{id}");
}

TEST_F(RouterTest, UnknownPathIs404Problem) {
    for (const auto* path : {"/nothing", "/items", "/items/42/extra", "/items/"}) {
        auto res = call(Verb::get, path);
        EXPECT_EQ(res.result_int(), 404) << path;
        EXPECT_EQ(res[beast_http::field::content_type], "application/problem+json");
        EXPECT_EQ(body(res).at("status").as_int64(), 404);
        EXPECT_EQ(body(res).at("request_id").as_string(), "req-1");
    }
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
    auto res = call(Verb::put, "/items/7");
    EXPECT_EQ(res.result_int(), 405);
    EXPECT_EQ(res[beast_http::field::allow], "GET, DELETE");
    EXPECT_EQ(body(res).at("title").as_string(), "Method Not Allowed");
}

TEST_F(RouterTest, HeadUsesGet) {
    EXPECT_EQ(call(Verb::head, "/items/1").result_int(), 200);
}

TEST_F(RouterTest, JsonBodyErrors) {
    EXPECT_EQ(call(Verb::post, "/notes", R"({"text":"hi"})", "application/json").result_int(), 201);
    EXPECT_EQ(call(Verb::post, "/notes", R"({"text":)", "application/json").result_int(), 400);
    EXPECT_EQ(call(Verb::post, "/notes", R"({"text":"hi"})", "text/plain").result_int(), 415);
    auto res = call(Verb::post, "/notes", R"({"text":3})", "application/json");
    EXPECT_EQ(res.result_int(), 422);
    const auto errors = body(res).at("errors").as_array();
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(errors[0].at("field").as_string(), "text");
    EXPECT_EQ(errors[0].at("message").as_string(), "must be a string");
}

TEST_F(RouterTest, UnexpectedExceptionIs500WithoutDetails) {
    auto res = call(Verb::get, "/boom");
    EXPECT_EQ(res.result_int(), 500);
    EXPECT_EQ(res.body().find("secret internal detail"), std::string::npos);
    EXPECT_EQ(body(res).at("request_id").as_string(), "req-1");
}

TEST_F(RouterTest, UnavailableIs503WithRetryAfter) {
    auto res = call(Verb::get, "/down");
    EXPECT_EQ(res.result_int(), 503);
    EXPECT_EQ(res[beast_http::field::retry_after], "1");
}

TEST_F(RouterTest, OpenApiListsEveryVisibleRoute) {
    const auto doc = openapi_document(router, "Test", "1");
    EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
    const auto& paths = doc.at("paths").as_object();
    EXPECT_TRUE(paths.contains("/items/{id}"));
    EXPECT_TRUE(paths.at("/items/{id}").as_object().contains("get"));
    EXPECT_TRUE(paths.at("/items/{id}").as_object().contains("delete"));
    EXPECT_FALSE(paths.contains("/hidden"));
    const auto& get = paths.at("/items/{id}").at("get");
    EXPECT_EQ(get.at("parameters").as_array()[0].at("name").as_string(), "id");
    EXPECT_EQ(get.at("operationId").as_string(), "get_items_id");
    const auto& post = paths.at("/notes").at("post");
    EXPECT_EQ(post.at("requestBody").at("content").at("application/json").at("schema").at("type").as_string(),
              "object");
    EXPECT_TRUE(post.at("responses").as_object().contains("201"));
    EXPECT_TRUE(post.at("responses").as_object().contains("422"));
    EXPECT_TRUE(doc.at("components").at("schemas").as_object().contains("Problem"));
}

TEST(Request, QueryParametersAreDecoded) {
    Header h;
    Request req(h, "");
    req.query = "a=1&b=x%20y&c=x+y&d&e%3D=%26";
    EXPECT_EQ(req.query_param("a"), "1");
    EXPECT_EQ(req.query_param("b"), "x y");
    EXPECT_EQ(req.query_param("c"), "x y");
    EXPECT_EQ(req.query_param("d"), "");
    EXPECT_EQ(req.query_param("e="), "&");
    EXPECT_EQ(req.query_param("missing"), std::nullopt);
    // A view that is not NUL-terminated, as the server's (a window into the request line).
    const std::string line = "actor=01a20aeb-b3ee-7858-ade7-5970b2c8f44f&limit=2 HTTP/1.1";
    req.query = std::string_view(line).substr(0, line.find(' '));
    EXPECT_EQ(req.query_param("limit"), "2");
    EXPECT_EQ(req.query_param("actor"), "01a20aeb-b3ee-7858-ade7-5970b2c8f44f");
}

TEST(Request, MalformedQueryStringIsA400) {
    Header h;
    Request req(h, "");
    req.query = "a=%%%";
    try {
        (void)req.query_param("a");
        ADD_FAILURE() << "no Problem thrown";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 400);
    }
}

TEST(Request, NoQueryStringAtAll) {
    Header h;
    Request req(h, "");  // the server leaves `query` a null view when the target has no '?'
    EXPECT_EQ(req.query_param("a"), std::nullopt);
}

TEST(RouterCors, PreflightAndOrigins) {
    core::CorsConfig cors;
    cors.enabled = true;
    cors.allow_origins = {"https://app.example"};
    Router router(cors);
    router.add({.method = Verb::get, .path = "/items/{id}", .summary = "Get", .handler = echo_id});
    Header h;
    h.method(Verb::options);
    h.set(beast_http::field::origin, "https://app.example");
    h.set(beast_http::field::access_control_request_method, "GET");
    Request pre(h, "");
    pre.path = "/items/1";
    auto res = kiln::testing::run(router.dispatch(pre, router.match(Verb::options, "/items/1")));
    EXPECT_EQ(res.result_int(), 204);
    EXPECT_EQ(res[beast_http::field::access_control_allow_origin], "https://app.example");
    EXPECT_EQ(res[beast_http::field::access_control_allow_methods], "GET");

    Header other;
    other.method(Verb::get);
    other.set(beast_http::field::origin, "https://evil.example");
    Request get(other, "");
    get.path = "/items/1";
    auto res2 = kiln::testing::run(router.dispatch(get, router.match(Verb::get, "/items/1")));
    EXPECT_EQ(res2.result_int(), 200);
    EXPECT_EQ(res2.count(beast_http::field::access_control_allow_origin), 0U);
}

}  // namespace
}  // namespace kiln::http
