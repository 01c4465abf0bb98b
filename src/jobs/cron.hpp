#pragma once
// Cron expressions, the standard five fields (minute hour day-of-month month day-of-week) with
// lists, ranges, steps, month and day names and the @hourly … @yearly shorthands. Times are
// civil (wall-clock) times in the schedule's zone; PostgreSQL converts them to instants, so
// time-zone rules (daylight saving) come from its tz database.
#include <bitset>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::jobs {

struct CivilMinute {
    int year = 1970;
    int month = 1;  // 1-12
    int day = 1;    // 1-31
    int hour = 0;
    int minute = 0;

    // "YYYY-MM-DD HH:MM", as PostgreSQL reads and writes a timestamp.
    std::string str() const;
    static std::optional<CivilMinute> parse(std::string_view s);
    friend bool operator==(const CivilMinute&, const CivilMinute&) = default;
};

class Cron {
public:
    // nullopt, with the reason in *error, when `expr` is not a valid expression.
    static std::optional<Cron> parse(std::string_view expr, std::string* error = nullptr);

    // The first minute strictly after `after` that matches; nullopt when none does within
    // eight years (e.g. "0 0 30 2 *").
    std::optional<CivilMinute> next(const CivilMinute& after) const;

private:
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;     // 1-31
    std::bitset<13> months_;   // 1-12
    std::bitset<7> weekdays_;  // 0 = Sunday
    // As in Vixie cron: when both day fields are restricted, a day matching either runs.
    bool any_day_ = true;
    bool any_weekday_ = true;

    bool day_matches(int day, unsigned weekday) const;
};

}  // namespace kiln::jobs
