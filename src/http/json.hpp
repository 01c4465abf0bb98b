#pragma once
// JSON binding for Boost.Describe structs: decoding reports every bad field at once (422),
// encoding and JSON Schema generation follow the same member list.
#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/problem.hpp"
#include "core/uuid.hpp"
#include "http/request.hpp"

namespace kiln::http {

namespace json = boost::json;

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
concept Described = boost::describe::has_describe_members<T>::value;
// A struct may add rules beyond types: void validate(core::Validator&) const.
template <typename T>
concept SelfValidating = requires(const T& t, core::Validator& v) {
    t.validate(v);
};

namespace detail {

// A double that is a whole number an int64 holds (1e82 is whole but out of range: converting it
// would be undefined behaviour). 2^63 is exact as a double and is the first value out of range.
inline bool whole_int64(double d) {
    constexpr double kLimit = 9223372036854775808.0;  // 2^63
    return d >= -kLimit && d < kLimit && d == std::trunc(d);
}

inline std::string join(const std::string& prefix, std::string_view name) {
    return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
}

template <typename T>
void decode(const json::value& in, T& out, const std::string& field, core::Validator& v);

template <Described T>
void decode_object(const json::value& in, T& out, const std::string& prefix, core::Validator& v) {
    const auto* obj = in.if_object();
    if (obj == nullptr) {
        v.add(prefix.empty() ? "body" : prefix, "must be an object");
        return;
    }
    boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>([&](auto d) {
        using M = std::remove_cvref_t<decltype(out.*d.pointer)>;
        const auto field = join(prefix, d.name);
        const auto* found = obj->if_contains(d.name);
        if (found == nullptr || found->is_null()) {
            if constexpr (!IsOptional<M>::value) {
                if (found == nullptr) {
                    v.add(field, "is required");
                } else {
                    v.add(field, "must not be null");
                }
            }
            return;
        }
        decode(*found, out.*d.pointer, field, v);
    });
    // Unknown fields are refused: a misspelt optional field would otherwise be silently ignored.
    for (const auto& kv : *obj) {
        bool known = false;
        boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
            [&](auto d) { known = known || kv.key() == d.name; });
        if (!known) v.add(join(prefix, kv.key()), "is not a known field");
    }
}

template <typename T>
void decode(const json::value& in, T& out, const std::string& field, core::Validator& v) {
    if constexpr (IsOptional<T>::value) {
        typename T::value_type inner{};
        decode(in, inner, field, v);
        out = std::move(inner);
    } else if constexpr (std::is_same_v<T, bool>) {
        if (!in.is_bool()) return v.add(field, "must be true or false");
        out = in.get_bool();
    } else if constexpr (std::is_integral_v<T>) {
        std::int64_t n = 0;
        if (in.is_int64()) {
            n = in.get_int64();
        } else if (in.is_uint64() && in.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
            n = static_cast<std::int64_t>(in.get_uint64());
        } else if (in.is_double() && whole_int64(in.get_double())) {
            n = static_cast<std::int64_t>(in.get_double());
        } else {
            return v.add(field, "must be an integer");
        }
        if (n < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
            (n > 0 && static_cast<std::uint64_t>(n) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))) {
            return v.add(field, "is out of range");
        }
        out = static_cast<T>(n);
    } else if constexpr (std::is_floating_point_v<T>) {
        if (!in.is_number()) return v.add(field, "must be a number");
        out = static_cast<T>(in.to_number<double>());
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (!in.is_string()) return v.add(field, "must be a string");
        out = std::string(in.get_string());
    } else if constexpr (std::is_same_v<T, core::Uuid>) {
        const auto* s = in.if_string();
        auto id = s != nullptr ? core::Uuid::parse(*s) : std::nullopt;
        if (!id) return v.add(field, "must be a UUID");
        out = *id;
    } else if constexpr (std::is_same_v<T, json::value>) {
        out = in;
    } else if constexpr (IsVector<T>::value) {
        const auto* arr = in.if_array();
        if (arr == nullptr) return v.add(field, "must be an array");
        out.clear();
        out.resize(arr->size());
        for (std::size_t i = 0; i < arr->size(); ++i)
            decode((*arr)[i], out[i], field + "[" + std::to_string(i) + "]", v);
    } else if constexpr (Described<T>) {
        decode_object(in, out, field, v);
    } else {
        static_assert(sizeof(T) == 0, "no JSON decoding for this type");
    }
}

template <typename T>
json::value encode(const T& in) {
    if constexpr (IsOptional<T>::value) {
        return in ? encode(*in) : json::value(nullptr);
    } else if constexpr (std::is_same_v<T, core::Uuid>) {
        return json::value(in.str());
    } else if constexpr (IsVector<T>::value) {
        json::array arr;
        for (const auto& el : in) arr.push_back(encode(el));
        return arr;
    } else if constexpr (Described<T>) {
        json::object obj;
        boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
            [&](auto d) { obj[d.name] = encode(in.*d.pointer); });
        return obj;
    } else {
        return json::value_from(in);
    }
}

template <typename T>
json::object schema();

template <typename T>
json::object schema_of_member() {
    if constexpr (IsOptional<T>::value) {
        return schema_of_member<typename T::value_type>();
    } else if constexpr (std::is_same_v<T, bool>) {
        return {{"type", "boolean"}};
    } else if constexpr (std::is_integral_v<T>) {
        return {{"type", "integer"}};
    } else if constexpr (std::is_floating_point_v<T>) {
        return {{"type", "number"}};
    } else if constexpr (std::is_same_v<T, std::string>) {
        return {{"type", "string"}};
    } else if constexpr (std::is_same_v<T, core::Uuid>) {
        return {{"type", "string"}, {"format", "uuid"}};
    } else if constexpr (std::is_same_v<T, json::value>) {
        return {};
    } else if constexpr (IsVector<T>::value) {
        return {{"type", "array"}, {"items", schema_of_member<typename T::value_type>()}};
    } else {
        return schema<T>();
    }
}

template <typename T>
json::object schema() {
    static_assert(Described<T>, "schemas are generated from described structs");
    json::object properties;
    json::array required;
    boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>([&](auto d) {
        using M = std::remove_cvref_t<decltype(std::declval<T>().*d.pointer)>;
        properties[d.name] = schema_of_member<M>();
        if constexpr (!IsOptional<M>::value) required.emplace_back(d.name);
    });
    json::object out{{"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
    if (!required.empty()) out["required"] = std::move(required);
    return out;
}

}  // namespace detail

// Parses a JSON document; a syntax error is a 400 Problem.
json::value parse_json(std::string_view text);
// Checks Content-Type is JSON (415 otherwise) and parses the body (400 when malformed).
json::value parse_json_body(const Request& req);

template <Described T>
T bind(const json::value& value) {
    T out{};
    core::Validator v;
    detail::decode_object(value, out, "", v);
    if constexpr (SelfValidating<T>) {
        if (v.ok()) out.validate(v);
    }
    v.throw_if_failed();
    return out;
}

// The request body as T: 415, 400 or 422 with one entry per bad field.
template <Described T>
T bind_body(const Request& req) {
    return bind<T>(parse_json_body(req));
}

template <typename T>
json::value to_json(const T& value) {
    return detail::encode(value);
}

template <Described T>
json::object json_schema() {
    return detail::schema<T>();
}

}  // namespace kiln::http
