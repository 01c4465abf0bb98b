// /docs (Swagger UI) and /redoc (ReDoc), from the npm packages embedded at build time: no CDN.
#include <algorithm>

#include "app/app.hpp"
#include "core/embedded.hpp"

namespace asio = boost::asio;

namespace kiln::app {

namespace {

std::string_view content_type(std::string_view name) {
    if (name.ends_with(".html")) return "text/html; charset=utf-8";
    if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
    if (name.ends_with(".css")) return "text/css; charset=utf-8";
    return "application/octet-stream";
}

const core::EmbeddedFile* find_asset(std::string_view name) {
    const auto files = core::embedded_web();
    auto it = std::find_if(files.begin(), files.end(), [&](const core::EmbeddedFile& f) { return f.name == name; });
    return it == files.end() ? nullptr : &*it;
}

asio::awaitable<http::Response> asset(std::string dir, http::Request& req) {
    const auto file = req.param("file");
    const auto* f = find_asset(dir + "/" + std::string(file.empty() ? "index.html" : file));
    if (f == nullptr) throw core::Problem::not_found();
    auto res = http::text_response(200, std::string(f->data), content_type(f->name));
    res.set(http::beast_http::field::cache_control, file.empty() ? "no-cache" : "public, max-age=3600");
    res.set("X-Content-Type-Options", "nosniff");
    co_return res;
}

asio::awaitable<http::Response> to_docs(http::Request& /*req*/) {
    http::Response res{http::beast_http::status::found, 11};
    res.set(http::beast_http::field::location, "/docs");
    co_return res;
}

}  // namespace

void add_docs_routes(http::Router& router) {
    for (const std::string dir : {"docs", "redoc"}) {
        const std::string title = dir == "docs" ? "Swagger UI" : "ReDoc";
        router.add({.method = http::Verb::get,
                    .path = "/" + dir,
                    .summary = "API reference (" + title + ")",
                    .response = {"text/html", std::nullopt},
                    .handler = [dir](http::Request& r) { return asset(dir, r); },
                    .hidden = true});
        router.add({.method = http::Verb::get,
                    .path = "/" + dir + "/{file}",
                    .summary = title + " assets",
                    .response = {"application/octet-stream", std::nullopt},
                    .handler = [dir](http::Request& r) { return asset(dir, r); },
                    .hidden = true});
    }
    router.add({.method = http::Verb::get,
                .path = "/",
                .summary = "Start page",
                .status = 302,
                .response = {"text/html", std::nullopt},
                .handler = to_docs,
                .hidden = true});
}

}  // namespace kiln::app
