#pragma once
// Statement text built once from constants (never from input: values are always parameters).
#include <string>
#include <string_view>

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

}  // namespace kiln::db
