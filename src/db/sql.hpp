#pragma once
// Statement text built once from constants (never from input: values are always parameters).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::db {

// SELECT `columns` FROM `table` WHERE workspace_id = kiln_current_workspace() AND `where`: the
// shape of a tenant read (RLS would hold without the condition; with it the planner uses the
// primary key, which starts with workspace_id).
inline std::string tenant_select(std::string_view columns, std::string_view table, std::string_view where) {
    std::string s = "SELECT ";
    s += columns;
    s += " FROM ";
    s += table;
    s += " WHERE workspace_id = kiln_current_workspace() AND ";
    s += where;
    return s;
}

// A text[] literal (a parameter's value, never statement text) whose elements may be NULL; cast
// it in SQL to the array type wanted ($1::uuid[], $2::bigint[]).
inline std::string nullable_array(const std::vector<std::optional<std::string>>& items) {
    std::size_t size = 2;
    for (const auto& item : items) size += item ? item->size() + 3 : 5;
    std::string out;
    out.reserve(size);
    out += '{';
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0) out += ',';
        if (!items[i]) {
            out += "NULL";
            continue;
        }
        out += '"';
        std::string_view rest = *items[i];
        for (auto at = rest.find_first_of("\"\\"); at != std::string_view::npos; at = rest.find_first_of("\"\\")) {
            out.append(rest.substr(0, at)).append(1, '\\').append(1, rest[at]);
            rest.remove_prefix(at + 1);
        }
        out.append(rest);
        out += '"';
    }
    out += '}';
    return out;
}

// One element per item: `field(item)` is its text, or nullopt for NULL.
template <typename T, typename F>
std::string array_of(const std::vector<T>& items, F field) {
    std::vector<std::optional<std::string>> out;
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(field(item));
    return nullable_array(out);
}

}  // namespace kiln::db
