#include "jobs/cron.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <vector>

#include <fmt/format.h>

namespace kiln::jobs {

namespace {

constexpr std::array<std::string_view, 12> kMonths{"jan", "feb", "mar", "apr", "may", "jun",
                                                   "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdays{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct Field {
    std::string_view label;
    int lo;
    int hi;
    int first_name;  // the value of names[0]
    const std::string_view* names;
    std::size_t name_count;
};

// Appends rather than chains operator+ (g++ 12 warns falsely about the temporaries at -O2).
std::string message(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (const auto p : parts) out.append(p);
    return out;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::optional<int> value_of(std::string_view s, const Field& f) {
    int v = 0;
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, v);
    if (ec == std::errc{} && ptr == end) return v;
    if (s.size() != 3) return std::nullopt;
    for (std::size_t i = 0; i < f.name_count; ++i) {
        const auto name = f.names[i];  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
        if (lower(s[0]) == name[0] && lower(s[1]) == name[1] && lower(s[2]) == name[2]) {
            return f.first_name + static_cast<int>(i);
        }
    }
    return std::nullopt;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto at = s.find(sep, start);
        out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
        if (at == std::string_view::npos) return out;
        start = at + 1;
    }
}

// One field: items separated by commas, each `*`, `a` or `a-b`, optionally `/step`.
template <std::size_t N>
bool parse_field(std::string_view text, const Field& f, std::bitset<N>& out, std::string& error) {
    for (const auto item : split(text, ',')) {
        auto range = item;
        int step = 1;
        if (const auto slash = item.find('/'); slash != std::string_view::npos) {
            range = item.substr(0, slash);
            const auto s = item.substr(slash + 1);
            const auto* end = s.data() + s.size();
            const auto [ptr, ec] = std::from_chars(s.data(), end, step);
            if (ec != std::errc{} || ptr != end || step < 1) {
                error = message({f.label, ": the step in \"", item, "\" must be a positive number"});
                return false;
            }
        }
        int lo = f.lo;
        int hi = f.hi;
        if (range != "*") {
            const auto dash = range.find('-');
            const auto a = value_of(range.substr(0, dash), f);
            const auto b = dash == std::string_view::npos ? a : value_of(range.substr(dash + 1), f);
            if (!a || !b) {
                error = message({f.label, ": \"", item, "\" is not a value or range"});
                return false;
            }
            lo = *a;
            // "a/step" means from a to the end, as in Vixie cron.
            hi = dash == std::string_view::npos && item.find('/') != std::string_view::npos ? f.hi : *b;
        }
        if (lo < f.lo || hi > f.hi || lo > hi) {
            error = message({f.label, ": \"", item, "\" is outside ", std::to_string(f.lo), "-", std::to_string(f.hi)});
            return false;
        }
        for (int v = lo; v <= hi; v += step) out.set(static_cast<std::size_t>(v));
    }
    return true;
}

std::string_view expand(std::string_view expr) {
    if (expr == "@yearly" || expr == "@annually") return "0 0 1 1 *";
    if (expr == "@monthly") return "0 0 1 * *";
    if (expr == "@weekly") return "0 0 * * 0";
    if (expr == "@daily" || expr == "@midnight") return "0 0 * * *";
    if (expr == "@hourly") return "0 * * * *";
    return expr;
}

}  // namespace

std::string CivilMinute::str() const {
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", year, month, day, hour, minute);
}

std::optional<CivilMinute> CivilMinute::parse(std::string_view s) {
    // YYYY-MM-DD HH:MM
    constexpr std::size_t kLength = 16;
    if (s.size() < kLength || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':') return std::nullopt;
    auto number = [&](std::size_t at, std::size_t len, int& out) {
        const auto* end = s.data() + at + len;
        const auto [ptr, ec] = std::from_chars(s.data() + at, end, out);
        return ec == std::errc{} && ptr == end;
    };
    CivilMinute t;
    if (!number(0, 4, t.year) || !number(5, 2, t.month) || !number(8, 2, t.day) || !number(11, 2, t.hour) ||
        !number(14, 2, t.minute)) {
        return std::nullopt;
    }
    return t;
}

std::optional<Cron> Cron::parse(std::string_view expr, std::string* error) {
    std::string why;
    std::vector<std::string_view> fields;
    for (const auto part : split(expand(expr), ' ')) {
        if (!part.empty()) fields.push_back(part);
    }
    Cron c;
    const Field minute{"minute", 0, 59, 0, nullptr, 0};
    const Field hour{"hour", 0, 23, 0, nullptr, 0};
    const Field day{"day of month", 1, 31, 0, nullptr, 0};
    const Field month{"month", 1, 12, 1, kMonths.data(), kMonths.size()};
    const Field weekday{"day of week", 0, 7, 0, kWeekdays.data(), kWeekdays.size()};
    std::bitset<8> weekdays;
    const bool ok = fields.size() == 5 && parse_field(fields[0], minute, c.minutes_, why) &&
                    parse_field(fields[1], hour, c.hours_, why) && parse_field(fields[2], day, c.days_, why) &&
                    parse_field(fields[3], month, c.months_, why) && parse_field(fields[4], weekday, weekdays, why);
    if (!ok) {
        if (why.empty()) why = "expected five fields: minute hour day-of-month month day-of-week";
        if (error != nullptr) *error = why;
        return std::nullopt;
    }
    for (std::size_t d = 0; d < 7; ++d) c.weekdays_[d] = weekdays[d];
    if (weekdays[7]) c.weekdays_.set(0);  // 7 is Sunday too
    c.any_day_ = fields[2] == "*";
    c.any_weekday_ = fields[4] == "*";
    return c;
}

bool Cron::day_matches(int day, unsigned weekday) const {
    const bool by_day = days_[static_cast<std::size_t>(day)];
    const bool by_weekday = weekdays_[weekday];
    if (any_day_ || any_weekday_) return by_day && by_weekday;
    return by_day || by_weekday;
}

std::optional<CivilMinute> Cron::next(const CivilMinute& after) const {
    using namespace std::chrono;
    const year_month_day start{year{after.year}, month{static_cast<unsigned>(after.month)},
                               day{static_cast<unsigned>(after.day)}};
    if (!start.ok()) return std::nullopt;
    sys_days d{start};
    int h = after.hour;
    int m = after.minute + 1;
    if (m == 60) {
        m = 0;
        ++h;
    }
    if (h == 24) {
        h = 0;
        d += days{1};
    }
    constexpr int kYears = 8;
    const sys_days end = d + days{366 * kYears};
    for (; d < end; d += days{1}, h = 0, m = 0) {
        const year_month_day ymd{d};
        if (!months_[static_cast<unsigned>(ymd.month())]) continue;
        if (!day_matches(static_cast<int>(static_cast<unsigned>(ymd.day())), weekday{d}.c_encoding())) continue;
        for (int hh = h; hh < 24; ++hh) {
            if (!hours_[static_cast<std::size_t>(hh)]) continue;
            for (int mm = hh == h ? m : 0; mm < 60; ++mm) {
                if (minutes_[static_cast<std::size_t>(mm)]) {
                    return CivilMinute{static_cast<int>(ymd.year()),
                                       static_cast<int>(static_cast<unsigned>(ymd.month())),
                                       static_cast<int>(static_cast<unsigned>(ymd.day())), hh, mm};
                }
            }
        }
    }
    return std::nullopt;
}

}  // namespace kiln::jobs
