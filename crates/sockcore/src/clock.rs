//! Local time as the handouts' Python prints it: `str(datetime.datetime.now())`, i.e.
//! `YYYY-MM-DD HH:MM:SS.ffffff` (26 characters), without a date-time dependency.
//!
//! std gives the time since 1970 in UTC ([`SystemTime`]) and nothing about time zones, so
//! this module does two things:
//!
//! 1. **Civil date from a day count**, in UTC: Howard Hinnant's `civil_from_days` and
//!    `days_from_civil` (proleptic Gregorian calendar, exact for any year).
//! 2. **The local offset from UTC**, found where C's `localtime()` finds it (and therefore
//!    Python's `datetime.now()`, so that our TIME server and a Python one on the same machine
//!    agree to the microsecond):
//!    - the `TZ` variable, if set: empty means UTC; `:name` or `name` is a compiled zone file
//!      (`Europe/Madrid` in `/usr/share/zoneinfo`, or an absolute path); anything else is a
//!      POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3`;
//!    - otherwise `/etc/localtime`, a compiled zone file (TZif, RFC 8536): a table of past
//!      transitions plus, in its last line, the POSIX rule for every time after them;
//!    - otherwise UTC, and [`Zone::source`] says so. That is the case on Windows, whose zone
//!      lives in the registry behind a system call std does not expose (set `TZ` to a POSIX
//!      rule such as `CET-1CEST,M3.5.0,M10.5.0/3` to get local time there).
//!
//! Caveats: the zone is looked up once, at the first call to [`Zone::local`] (a long-running
//! C program does the same unless it calls `tzset()` again); leap seconds (the `right/`
//! zones) are ignored, as POSIX time ignores them.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of a time with microseconds, `2026-11-22 10:15:42.123456`: what our servers send.
pub const TIME_LEN: usize = 26;

/// Length of a time without its fraction, `2026-11-22 10:15:42`: what Python's
/// `str(datetime)` prints when the microseconds happen to be exactly 0 (once in a million).
pub const TIME_LEN_NO_FRACTION: usize = 19;

/// The shape of a time: `9` stands for any digit, every other byte for itself.
const PATTERN: &[u8; TIME_LEN] = b"9999-99-99 99:99:99.999999";

/// Seconds in a day.
const DAY: i64 = 86_400;

/// A calendar date and wall-clock time with microseconds, in no particular zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilTime {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 59.
    pub second: u8,
    /// Microsecond, 0 to 999,999.
    pub micro: u32,
}

impl CivilTime {
    /// The civil time `micros` microseconds after 1970-01-01 00:00:00 (before, if negative).
    pub fn from_unix_micros(micros: i64) -> CivilTime {
        let secs = micros.div_euclid(1_000_000);
        let days = secs.div_euclid(DAY);
        let in_day = secs.rem_euclid(DAY);
        let (year, month, day) = civil_from_days(days);
        CivilTime {
            year: year as i32,
            month: month as u8,
            day: day as u8,
            hour: (in_day / 3600) as u8,
            minute: (in_day / 60 % 60) as u8,
            second: (in_day % 60) as u8,
            micro: micros.rem_euclid(1_000_000) as u32,
        }
    }

    /// Microseconds since 1970-01-01 00:00:00 *of the same clock*: the inverse of
    /// [`CivilTime::from_unix_micros`]. The difference of two local times of one zone is
    /// the difference of their `as_micros` (the zone cancels out).
    pub fn as_micros(self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month.into(), self.day.into());
        let secs = days * DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        secs * 1_000_000 + i64::from(self.micro)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS.ffffff`, or `YYYY-MM-DD HH:MM:SS` (Python's
    /// `str(datetime)` when the microseconds are 0), checking every field's range.
    pub fn parse(text: &str) -> Option<CivilTime> {
        let b = text.as_bytes();
        if !(b.len() == TIME_LEN || b.len() == TIME_LEN_NO_FRACTION) || !is_time_prefix(b) {
            return None;
        }
        let num = |from: usize, to: usize| -> u32 {
            b[from..to]
                .iter()
                .fold(0, |n, d| n * 10 + u32::from(d - b'0'))
        };
        let t = CivilTime {
            year: num(0, 4) as i32,
            month: num(5, 7) as u8,
            day: num(8, 10) as u8,
            hour: num(11, 13) as u8,
            minute: num(14, 16) as u8,
            second: num(17, 19) as u8,
            micro: if b.len() == TIME_LEN { num(20, 26) } else { 0 },
        };
        let month_ok = (1..=12).contains(&t.month);
        let day_ok =
            month_ok && t.day >= 1 && u32::from(t.day) <= days_in_month(t.year.into(), t.month);
        (day_ok && t.hour < 24 && t.minute < 60 && t.second < 60).then_some(t)
    }
}

/// Always `YYYY-MM-DD HH:MM:SS.ffffff`, 26 characters (for years 0 to 9999), microseconds
/// included even when they are 0, so a reader can rely on the length.
impl fmt::Display for CivilTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micro
        )
    }
}

/// True when `bytes` is the beginning (or the whole) of a time `YYYY-MM-DD HH:MM:SS.ffffff`:
/// digits where digits go, and `-`, ` `, `:`, `.` in their places. A reader of unframed
/// replies uses it to tell "more to come" from "not a time".
pub fn is_time_prefix(bytes: &[u8]) -> bool {
    bytes.len() <= TIME_LEN
        && bytes.iter().zip(PATTERN).all(|(&b, &p)| match p {
            b'9' => b.is_ascii_digit(),
            _ => b == p,
        })
}

/// The local time now, as Python's `datetime.datetime.now()` gives it.
pub fn now() -> CivilTime {
    Zone::local().civil(SystemTime::now())
}

/// Microseconds since 1970-01-01 00:00:00 UTC (negative before).
fn unix_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
            // Floor, like the positive side: 0.5 µs before the epoch is in micro -1.
            -whole - i64::from(d.subsec_nanos() % 1000 != 0)
        }
    }
}

/// A time zone: the offset from UTC at any instant.
#[derive(Debug, Clone)]
pub struct Zone {
    kind: Kind,
    source: String,
}

#[derive(Debug, Clone)]
enum Kind {
    /// A POSIX rule (fixed offset, or standard and daylight time with yearly switches).
    Rule(Rule),
    /// A compiled zone file: transitions (Unix seconds, ascending) to offsets (seconds east
    /// of UTC), and the rule for times after the last transition.
    Table {
        transitions: Vec<i64>,
        offsets: Vec<i32>,
        first: i32,
        after: Option<Rule>,
    },
}

/// Directories that hold compiled zone files, in the order C libraries search them.
const ZONEINFO_DIRS: [&str; 3] = [
    "/usr/share/zoneinfo",
    "/usr/lib/zoneinfo",
    "/usr/share/lib/zoneinfo",
];

/// Where C libraries find the machine's zone when `TZ` is not set.
const LOCALTIME_FILE: &str = "/etc/localtime";

/// Largest compiled zone file read, in bytes: real ones are under 4 KiB.
const MAX_TZIF_LEN: u64 = 1 << 20;

impl Zone {
    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone::fixed(0, "UTC")
    }

    fn fixed(offset: i32, source: &str) -> Zone {
        Zone {
            kind: Kind::Rule(Rule {
                std: offset,
                dst: None,
            }),
            source: source.to_string(),
        }
    }

    /// This machine's zone, looked up once (see the module docs): from `TZ`, else
    /// `/etc/localtime`, else UTC.
    pub fn local() -> &'static Zone {
        static LOCAL: OnceLock<Zone> = OnceLock::new();
        LOCAL.get_or_init(|| Zone::from_tz(std::env::var("TZ").ok().as_deref()))
    }

    /// The zone that the `TZ` value `tz` selects (`None`: `TZ` not set), as C's `tzset()`
    /// reads it; never fails: what cannot be understood is UTC, as in C.
    pub fn from_tz(tz: Option<&str>) -> Zone {
        let Some(tz) = tz else {
            return Zone::from_file(Path::new(LOCALTIME_FILE)).unwrap_or_else(|_| {
                Zone::fixed(0, "UTC (TZ is not set and /etc/localtime cannot be read)")
            });
        };
        if tz.is_empty() {
            return Zone::fixed(0, "UTC (TZ is empty)");
        }
        let name = tz.strip_prefix(':').unwrap_or(tz);
        if let Some(zone) = Zone::from_name(name) {
            return zone;
        }
        if !tz.starts_with(':') {
            if let Some(rule) = Rule::parse(tz) {
                return Zone {
                    kind: Kind::Rule(rule),
                    source: format!("TZ={tz}"),
                };
            }
        }
        Zone::fixed(0, &format!("UTC (TZ={tz} is neither a zone nor a rule)"))
    }

    /// A zone file by name (`Europe/Madrid`) or absolute path.
    fn from_name(name: &str) -> Option<Zone> {
        let path = Path::new(name);
        if path.is_absolute() {
            return Zone::from_file(path).ok();
        }
        // A name from the environment must not climb out of the zone directory.
        if name.is_empty() || name.split('/').any(|part| part == "..") {
            return None;
        }
        ZONEINFO_DIRS
            .iter()
            .find_map(|dir| Zone::from_file(&Path::new(dir).join(name)).ok())
    }

    /// Reads a compiled zone file (TZif).
    ///
    /// # Errors
    /// The OS error of reading it, or [`io::ErrorKind::InvalidData`] when it is not a valid
    /// TZif file.
    pub fn from_file(path: &Path) -> io::Result<Zone> {
        use std::io::Read;
        let mut data = Vec::new();
        std::fs::File::open(path)?
            .take(MAX_TZIF_LEN)
            .read_to_end(&mut data)?;
        let mut zone = Zone::from_tzif(&data)?;
        zone.source = path.display().to_string();
        Ok(zone)
    }

    /// Parses the bytes of a compiled zone file (TZif versions 1 to 4, RFC 8536).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidData`] naming what is wrong.
    pub fn from_tzif(data: &[u8]) -> io::Result<Zone> {
        tzif::parse(data).map(|(transitions, offsets, first, after)| Zone {
            kind: Kind::Table {
                transitions,
                offsets,
                first,
                after,
            },
            source: "TZif data".to_string(),
        })
    }

    /// A zone from a POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3` (`None` if invalid).
    pub fn from_posix(rule: &str) -> Option<Zone> {
        Rule::parse(rule).map(|rule| Zone {
            kind: Kind::Rule(rule),
            source: format!("rule {rule:?}"),
        })
    }

    /// Where the zone came from (`/etc/localtime`, `/usr/share/zoneinfo/Europe/Madrid`,
    /// `TZ=CET-1CEST,...`), or why it is UTC.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The offset from UTC, in seconds east (Madrid in summer: 7200), at `unix_secs`.
    pub fn offset_at(&self, unix_secs: i64) -> i32 {
        match &self.kind {
            Kind::Rule(rule) => rule.offset_at(unix_secs),
            Kind::Table {
                transitions,
                offsets,
                first,
                after,
            } => {
                let i = transitions.partition_point(|&t| t <= unix_secs);
                match (i, after) {
                    (0, _) => *first,
                    (i, Some(rule)) if i == transitions.len() => rule.offset_at(unix_secs),
                    (i, _) => offsets[i - 1],
                }
            }
        }
    }

    /// The civil (wall-clock) time of instant `t` in this zone.
    pub fn civil(&self, t: SystemTime) -> CivilTime {
        let micros = unix_micros(t);
        let offset = self.offset_at(micros.div_euclid(1_000_000));
        CivilTime::from_unix_micros(micros + i64::from(offset) * 1_000_000)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible
/// low-level date algorithms").
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // year of era, 0..=399
    let mp = i64::from((month + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // day of the March-based year
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // day of era
    era * 146_097 + doe - 719_468
}

/// The date `days` days after 1970-01-01: (year, month, day). Inverse of
/// [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u8) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day of the week of a day count: 0 = Sunday (1970-01-01 was a Thursday).
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// A POSIX `TZ` rule: standard offset, and optionally daylight time with its two switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    /// Standard time's offset, seconds east of UTC (note: POSIX writes it west, `CET-1`).
    std: i32,
    dst: Option<Daylight>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Daylight {
    offset: i32,
    /// When daylight time starts, in local standard time.
    start: Switch,
    /// When it ends, in local daylight time.
    end: Switch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Switch {
    date: RuleDate,
    /// Seconds after local midnight (may be negative or over a day in TZif version 3).
    time: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleDate {
    /// `Jn`: day n of the year, 1 to 365, February 29 never counted.
    Julian(u16),
    /// `n`: day n of the year, 0 to 365, February 29 counted.
    Ordinal(u16),
    /// `Mm.w.d`: weekday d (0 Sunday) of week w (1 to 5, 5 = last) of month m.
    MonthWeekDay { month: u8, week: u8, weekday: u8 },
}

/// The switch rule C libraries assume for `EST5EDT`-style rules without one (US rules).
const DEFAULT_SWITCHES: &str = ",M3.2.0,M11.1.0";

impl Rule {
    fn parse(text: &str) -> Option<Rule> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        p.name()?;
        let std = -p.hms(24)?;
        if p.done() {
            return Some(Rule { std, dst: None });
        }
        p.name()?;
        let offset = match p.peek() {
            Some(b'+' | b'-' | b'0'..=b'9') => -p.hms(24)?,
            _ => std + 3600,
        };
        if p.done() {
            p = Parser {
                s: DEFAULT_SWITCHES.as_bytes(),
                i: 0,
            };
        }
        p.eat(b',')?;
        let start = p.switch()?;
        p.eat(b',')?;
        let end = p.switch()?;
        p.done().then_some(Rule {
            std,
            dst: Some(Daylight { offset, start, end }),
        })
    }

    fn offset_at(&self, t: i64) -> i32 {
        let Some(dst) = self.dst else {
            return self.std;
        };
        let year = civil_from_days((t + i64::from(self.std)).div_euclid(DAY)).0;
        let start = dst.start.instant(year) - i64::from(self.std);
        let end = dst.end.instant(year) - i64::from(dst.offset);
        let daylight = if start < end {
            start <= t && t < end
        } else {
            // Southern hemisphere: daylight time spans the new year.
            t < end || start <= t
        };
        if daylight {
            dst.offset
        } else {
            self.std
        }
    }
}

impl Switch {
    /// Seconds since 1970 of this switch in `year`, on the local clock it is written in.
    fn instant(&self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        let day = match self.date {
            RuleDate::Julian(n) => jan1 + i64::from(n) - 1 + i64::from(is_leap(year) && n >= 60),
            RuleDate::Ordinal(n) => jan1 + i64::from(n),
            RuleDate::MonthWeekDay {
                month,
                week,
                weekday: wd,
            } => {
                let first = days_from_civil(year, month.into(), 1);
                let first_wd = first + (i64::from(wd) - weekday(first)).rem_euclid(7);
                let mut day = first_wd + 7 * (i64::from(week) - 1);
                let next_month = first + i64::from(days_in_month(year, month));
                while day >= next_month {
                    day -= 7; // week 5 means "the last one", which may be the 4th
                }
                day
            }
        };
        day * DAY + i64::from(self.time)
    }
}

/// A cursor over a POSIX rule's bytes.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i == self.s.len()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek() == Some(b)).then(|| self.i += 1)
    }

    /// A zone abbreviation: `CET`, or quoted `<+0545>`; at least 3 characters.
    fn name(&mut self) -> Option<()> {
        let start = self.i;
        if self.eat(b'<').is_some() {
            while self
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
            {
                self.i += 1;
            }
            let len = self.i - start - 1;
            self.eat(b'>')?;
            (len >= 3).then_some(())
        } else {
            while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
                self.i += 1;
            }
            (self.i - start >= 3).then_some(())
        }
    }

    fn number(&mut self, max: u32) -> Option<u32> {
        let start = self.i;
        let mut n: u32 = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
            self.i += 1;
        }
        (self.i > start && n <= max).then_some(n)
    }

    /// `[+-]hh[:mm[:ss]]` in seconds, hours at most `max_hours`.
    fn hms(&mut self, max_hours: u32) -> Option<i32> {
        let sign = if self.eat(b'-').is_some() {
            -1
        } else {
            self.eat(b'+');
            1
        };
        let mut secs = self.number(max_hours)? * 3600;
        if self.eat(b':').is_some() {
            secs += self.number(59)? * 60;
            if self.eat(b':').is_some() {
                secs += self.number(59)?;
            }
        }
        Some(sign * secs as i32)
    }

    /// `date[/time]`, time 02:00 by default; up to ±167 hours (TZif version 3).
    fn switch(&mut self) -> Option<Switch> {
        let date = if self.eat(b'J').is_some() {
            RuleDate::Julian(self.number(365).filter(|&n| n >= 1)? as u16)
        } else if self.eat(b'M').is_some() {
            let month = self.number(12).filter(|&m| m >= 1)? as u8;
            self.eat(b'.')?;
            let week = self.number(5).filter(|&w| w >= 1)? as u8;
            self.eat(b'.')?;
            let weekday = self.number(6)? as u8;
            RuleDate::MonthWeekDay {
                month,
                week,
                weekday,
            }
        } else {
            RuleDate::Ordinal(self.number(365)? as u16)
        };
        let time = if self.eat(b'/').is_some() {
            self.hms(167)?
        } else {
            2 * 3600
        };
        Some(Switch { date, time })
    }
}

/// The compiled zone file format, TZif (RFC 8536).
mod tzif {
    use super::Rule;
    use std::io;

    /// Bytes before the counts: magic `TZif`, version, 15 reserved.
    const PREAMBLE_LEN: usize = 20;
    /// Bytes of one local time type: i32 offset, u8 is-DST, u8 abbreviation index.
    const TYPE_LEN: usize = 6;

    fn bad(what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a TZif file: {what}"),
        )
    }

    struct Cursor<'a> {
        data: &'a [u8],
        pos: usize,
    }

    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
            let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
            let end = end.ok_or_else(|| bad("truncated"))?;
            let bytes = &self.data[self.pos..end];
            self.pos = end;
            Ok(bytes)
        }

        fn u32(&mut self) -> io::Result<usize> {
            let b = self.take(4)?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
    }

    /// The six counts of a header, in file order.
    struct Counts {
        isut: usize,
        isstd: usize,
        leap: usize,
        time: usize,
        types: usize,
        chars: usize,
    }

    fn header(c: &mut Cursor<'_>) -> io::Result<(u8, Counts)> {
        let pre = c.take(PREAMBLE_LEN)?;
        if &pre[..4] != b"TZif" {
            return Err(bad("no TZif magic"));
        }
        let counts = Counts {
            isut: c.u32()?,
            isstd: c.u32()?,
            leap: c.u32()?,
            time: c.u32()?,
            types: c.u32()?,
            chars: c.u32()?,
        };
        if counts.types == 0 {
            return Err(bad("no local time types"));
        }
        Ok((pre[4], counts))
    }

    /// Transitions, the offset after each, the offset before the first, and the footer rule.
    pub(super) type Table = (Vec<i64>, Vec<i32>, i32, Option<Rule>);

    pub(super) fn parse(data: &[u8]) -> io::Result<Table> {
        let mut c = Cursor { data, pos: 0 };
        let (version, mut n) = header(&mut c)?;
        let mut time_len = 4;
        if version >= b'2' {
            // Skip the version 1 block (32-bit times) for the 64-bit one that follows.
            let v1 = n.time * 5 + n.types * TYPE_LEN + n.chars + n.leap * 8 + n.isstd + n.isut;
            c.take(v1)?;
            n = header(&mut c)?.1;
            time_len = 8;
        }
        let times = c.take(n.time * time_len)?;
        let transitions: Vec<i64> = times
            .chunks_exact(time_len)
            .map(|t| match t.len() {
                4 => i64::from(i32::from_be_bytes(
                    t.try_into().expect("a chunk of 4 bytes"),
                )),
                _ => i64::from_be_bytes(t.try_into().expect("a chunk of 8 bytes")),
            })
            .collect();
        let indices = c.take(n.time)?.to_vec();
        let types: Vec<i32> = c
            .take(n.types * TYPE_LEN)?
            .chunks_exact(TYPE_LEN)
            .map(|t| i32::from_be_bytes([t[0], t[1], t[2], t[3]]))
            .collect();
        let offsets = indices
            .iter()
            .map(|&i| types.get(usize::from(i)).copied())
            .collect::<Option<Vec<i32>>>()
            .ok_or_else(|| bad("transition to an undefined type"))?;
        if transitions.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("transitions out of order"));
        }
        c.take(n.chars + n.leap * (time_len + 4) + n.isstd + n.isut)?;
        let mut after = None;
        if version >= b'2' {
            let rest = &data[c.pos..];
            let footer = rest
                .strip_prefix(b"\n")
                .and_then(|r| r.split(|&b| b == b'\n').next())
                .ok_or_else(|| bad("no footer"))?;
            if !footer.is_empty() {
                let text = std::str::from_utf8(footer).map_err(|_| bad("footer not text"))?;
                after = Some(Rule::parse(text).ok_or_else(|| bad("footer rule invalid"))?);
            }
        }
        Ok((transitions, offsets, types[0], after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s
    }

    /// Day counts and dates convert both ways, across eras, leap days and the epoch.
    #[test]
    fn civil_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(weekday(days_from_civil(2026, 11, 22)), 0); // a Sunday
    }

    /// The format is Python's `str(datetime)` with the microseconds always present.
    #[test]
    fn display_is_26_characters_like_python() {
        let t = CivilTime::from_unix_micros(at(2026, 11, 22, 3, 5, 7) * 1_000_000 + 42);
        assert_eq!(t.to_string(), "2026-11-22 03:05:07.000042");
        let t = CivilTime::from_unix_micros(-1);
        assert_eq!(t.to_string(), "1969-12-31 23:59:59.999999");
        assert_eq!(t.to_string().len(), TIME_LEN);
        assert_eq!(CivilTime::from_unix_micros(t.as_micros()), t);
    }

    /// Both of Python's forms parse; malformed or out-of-range times do not.
    #[test]
    fn parse_accepts_both_python_forms() {
        let full = CivilTime::parse("2024-02-29 23:59:59.123456").unwrap();
        assert_eq!((full.year, full.day, full.micro), (2024, 29, 123_456));
        let bare = CivilTime::parse("2024-02-29 23:59:59").unwrap();
        assert_eq!(bare.micro, 0);
        for bad in [
            "2023-02-29 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:00.12345",
            "2024-01-01 00:00:00.",
        ] {
            assert_eq!(CivilTime::parse(bad), None, "{bad}");
        }
        assert!(is_time_prefix(b"2024-01-0"));
        assert!(!is_time_prefix(b"2024/"));
        assert!(!is_time_prefix(b"Bye"));
    }

    /// Central European rules switch at 01:00 UTC on the last Sundays of March and October.
    #[test]
    fn posix_rule_switches_at_the_right_second() {
        let z = Zone::from_posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        assert_eq!(z.offset_at(at(2024, 3, 31, 0, 59, 59)), 3600);
        assert_eq!(z.offset_at(at(2024, 3, 31, 1, 0, 0)), 7200);
        assert_eq!(z.offset_at(at(2024, 10, 27, 0, 59, 59)), 7200);
        assert_eq!(z.offset_at(at(2024, 10, 27, 1, 0, 0)), 3600);
    }

    /// Southern rules (daylight time over the new year), quoted names, fixed and default
    /// rules, Julian days.
    #[test]
    fn posix_rule_variants() {
        let sydney = Zone::from_posix("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(sydney.offset_at(at(2024, 1, 15, 0, 0, 0)), 11 * 3600);
        assert_eq!(sydney.offset_at(at(2024, 7, 15, 0, 0, 0)), 10 * 3600);
        let nepal = Zone::from_posix("<+0545>-5:45").unwrap();
        assert_eq!(nepal.offset_at(0), 5 * 3600 + 45 * 60);
        let ny = Zone::from_posix("EST5EDT").unwrap();
        assert_eq!(ny.offset_at(at(2024, 3, 10, 6, 59, 59)), -5 * 3600);
        assert_eq!(ny.offset_at(at(2024, 3, 10, 7, 0, 0)), -4 * 3600);
        let julian = Zone::from_posix("XXX0YYY,J60/0,J300/0").unwrap();
        assert_eq!(julian.offset_at(at(2024, 3, 1, 0, 0, 0)), 3600); // J60 = March 1
        assert_eq!(julian.offset_at(at(2024, 2, 29, 23, 0, 0)), 0);
        for bad in [
            "",
            "CE",
            "CET",
            "CET-1CEST,M13.1.0,M10.5.0",
            "CET-1CEST,M3.5.0",
        ] {
            assert!(Zone::from_posix(bad).is_none(), "{bad}");
        }
    }

    /// A hand-made TZif version 2 file: a table of two transitions and a footer rule.
    #[test]
    fn tzif_table_and_footer() {
        fn header(out: &mut Vec<u8>, time: u32, types: u32, chars: u32) {
            out.extend_from_slice(b"TZif2");
            out.extend_from_slice(&[0; 15]);
            for n in [0, 0, 0, time, types, chars] {
                out.extend_from_slice(&u32::to_be_bytes(n));
            }
        }
        let mut f = Vec::new();
        header(&mut f, 0, 1, 4); // an empty version 1 block
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(b"UTC\0");
        header(&mut f, 2, 2, 8);
        f.extend_from_slice(&1_000i64.to_be_bytes());
        f.extend_from_slice(&2_000i64.to_be_bytes());
        f.extend_from_slice(&[1, 0]);
        f.extend_from_slice(&[0, 0, 0x0e, 0x10, 0, 0]); // type 0: +3600
        f.extend_from_slice(&[0, 0, 0x1c, 0x20, 1, 4]); // type 1: +7200
        f.extend_from_slice(b"CET\0CST\0");
        f.extend_from_slice(b"\nXXX-3\n");
        let z = Zone::from_tzif(&f).unwrap();
        assert_eq!(z.offset_at(999), 3600); // before the first: type 0
        assert_eq!(z.offset_at(1_000), 7200);
        assert_eq!(z.offset_at(1_999), 7200);
        assert_eq!(z.offset_at(2_000), 3 * 3600); // after the last: the footer rule
        assert!(Zone::from_tzif(&f[..f.len() - 20]).is_err());
        assert!(Zone::from_tzif(b"TZjf").is_err());
    }

    /// The system's Madrid file (when installed) gives winter, summer and 1970s offsets.
    #[test]
    fn system_zone_file_when_present() {
        let Some(z) = Zone::from_name("Europe/Madrid") else {
            eprintln!("no zoneinfo on this machine; skipped");
            return;
        };
        assert_eq!(z.offset_at(at(2024, 1, 15, 12, 0, 0)), 3600);
        assert_eq!(z.offset_at(at(2024, 7, 15, 12, 0, 0)), 7200);
        assert_eq!(z.offset_at(at(2090, 7, 15, 12, 0, 0)), 7200);
        assert_eq!(z.offset_at(at(1975, 1, 15, 12, 0, 0)), 3600);
    }

    /// `TZ` is read as C reads it: empty is UTC, nonsense is UTC, rules are rules.
    #[test]
    fn tz_variable_forms() {
        assert_eq!(Zone::from_tz(Some("")).offset_at(0), 0);
        assert_eq!(Zone::from_tz(Some("Nowhere/Special")).offset_at(0), 0);
        assert_eq!(Zone::from_tz(Some("<+03>-3")).offset_at(0), 3 * 3600);
        assert!(Zone::from_tz(Some("../../etc/passwd"))
            .source()
            .starts_with("UTC"));
    }
}
