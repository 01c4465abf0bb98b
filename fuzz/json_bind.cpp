// Request bodies into the uploads module's inputs: any document either binds (and then passes
// or fails the rules beyond types with a 422 naming fields) or is a 400/422 Problem; nothing else
// escapes, and a body that binds is written back as JSON that binds again.
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/problem.hpp"
#include "http/json.hpp"
#include "modules/uploads/model.hpp"

namespace {

template <typename T>
void bind_and_check(const boost::json::value& doc) {
    T input;
    try {
        input = kiln::http::bind<T>(doc);
    } catch (const kiln::core::Problem& p) {
        if (p.status() != 422) __builtin_trap();
        return;
    }
    // What kiln writes back binds again (a client may send it back as it got it). Not byte for
    // byte: Boost.JSON 1.81 may read a double it wrote one unit in the last place off.
    (void)kiln::http::bind<T>(kiln::http::parse_json(boost::json::serialize(kiln::http::to_json(input))));
    kiln::core::Validator rules;
    kiln::uploads::validate(input, rules);
    try {
        rules.throw_if_failed();
    } catch (const kiln::core::Problem& p) {
        if (p.status() != 422) __builtin_trap();
    }
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    boost::json::value doc;
    try {
        doc = kiln::http::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
    } catch (const kiln::core::Problem& p) {
        if (p.status() != 400) __builtin_trap();
        return 0;
    }
    bind_and_check<kiln::uploads::ProjectInput>(doc);
    bind_and_check<kiln::uploads::ProjectPatch>(doc);
    bind_and_check<kiln::uploads::CycleInput>(doc);
    bind_and_check<kiln::uploads::CyclePatch>(doc);
    bind_and_check<kiln::uploads::SyncSessionReplace>(doc);
    return 0;
}
