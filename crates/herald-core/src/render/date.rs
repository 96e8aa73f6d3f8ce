//! `dateFormat`: JavaScript's `Date.parse` (the forms templates send) and date-fns 2.29's
//! `format` with its en-US locale, which is what Novu runs. Novu's workers format in the server's
//! local zone, UTC in its images; Herald formats in UTC. Patterns are date-fns tokens
//! (`yyyy-MM-dd`, `MMM d, yyyy`, `EEEE`, `h:mm a`, `PPpp`, `'quoted text'`), not strftime, and
//! date-fns' errors are kept: `YYYY`/`YY`/`D`/`DD` and unknown latin letters fail the render.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};

/// `Date.parse(text)` for ISO 8601 (`2024-01-02`, `2024-01-02T10:00:00.000Z`, with `T` or a
/// space, offsets `Z`/`±HH:mm`/`±HHmm`), RFC 2822 (`Tue, 02 Jan 2024 10:00:00 GMT`) and the
/// slash forms `2024/01/02` and `01/02/2024` (optionally followed by `HH:mm[:ss]`). Date-only ISO
/// forms are UTC; the others without an offset are local time, which is UTC here. V8's other
/// lenient forms are treated as not parseable, so `dateFormat` returns them unchanged.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    parse_iso(text)
        .or_else(|| {
            DateTime::parse_from_rfc2822(text)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        })
        .or_else(|| parse_slashed(text))
        .filter(|d| d.timestamp_millis().abs() <= 8_640_000_000_000_000)
}

/// A date from JavaScript's milliseconds since the epoch (`new Date(number)`).
pub fn from_millis(ms: f64) -> Option<DateTime<Utc>> {
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return None;
    }
    Utc.timestamp_millis_opt(ms.trunc() as i64).single()
}

/// Reads `n` ASCII digits at the front of `s`.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    let (year, mut rest) = match s.as_bytes().first()? {
        sign @ (b'+' | b'-') => {
            let (y, rest) = digits(&s[1..], 6)?;
            if *sign == b'-' && y == 0 {
                return None;
            }
            (if *sign == b'-' { -(y as i32) } else { y as i32 }, rest)
        }
        _ => {
            let (y, rest) = digits(s, 4)?;
            (y as i32, rest)
        }
    };
    let (mut month, mut day) = (1, 1);
    if let Some(r) = rest.strip_prefix('-') {
        (month, rest) = digits(r, 2)?;
        if let Some(r) = rest.strip_prefix('-') {
            (day, rest) = digits(r, 2)?;
        }
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let Some(r) = rest.strip_prefix(['T', ' ']) else {
        return rest
            .is_empty()
            .then(|| date.and_time(NaiveTime::MIN).and_utc());
    };
    let (hour, r) = digits(r, 2)?;
    let (minute, mut r) = digits(r.strip_prefix(':')?, 2)?;
    let (mut second, mut millis) = (0, 0);
    if let Some(after) = r.strip_prefix(':') {
        (second, r) = digits(after, 2)?;
        if let Some(after) = r.strip_prefix('.') {
            let len = after.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 {
                return None;
            }
            let frac = &after[..len];
            millis = format!("{:0<3}", &frac[..len.min(3)]).parse().ok()?;
            r = &after[len..];
        }
    }
    let offset_minutes = parse_offset(r)?;
    let local = if hour == 24 && minute == 0 && second == 0 && millis == 0 {
        date.checked_add_days(Days::new(1))?
            .and_time(NaiveTime::MIN)
    } else {
        date.and_time(NaiveTime::from_hms_milli_opt(hour, minute, second, millis)?)
    };
    Some((local - chrono::Duration::minutes(offset_minutes)).and_utc())
}

/// `""`/`Z` → 0, `±HH:mm` or `±HHmm` → minutes east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    if s.is_empty() || s == "Z" {
        return Some(0);
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, r) = digits(&s[1..], 2)?;
    let (m, r) = digits(r.strip_prefix(':').unwrap_or(r), 2)?;
    (r.is_empty() && h < 24 && m < 60).then_some(sign * i64::from(h * 60 + m))
}

fn parse_slashed(s: &str) -> Option<DateTime<Utc>> {
    let (date_part, time_part) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let fields: Vec<&str> = date_part.split('/').collect();
    let [a, b, c] = fields.as_slice() else {
        return None;
    };
    let num = |x: &str| -> Option<u32> {
        (!x.is_empty() && x.len() <= 4 && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse().ok())
            .flatten()
    };
    let date = if a.len() == 4 {
        NaiveDate::from_ymd_opt(num(a)? as i32, num(b)?, num(c)?)?
    } else if c.len() == 4 {
        NaiveDate::from_ymd_opt(num(c)? as i32, num(a)?, num(b)?)?
    } else {
        return None;
    };
    let time = match time_part {
        None => NaiveTime::MIN,
        Some(t) => NaiveTime::parse_from_str(t, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
            .ok()?,
    };
    Some(NaiveDateTime::new(date, time).and_utc())
}

/// `Date.prototype.toString()` in UTC, as date-fns quotes the input in its errors.
fn js_to_string(d: &DateTime<Utc>) -> String {
    d.format("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")
        .to_string()
}

/// date-fns `format(date, pattern)` in UTC with the en-US locale.
pub fn format(d: &DateTime<Utc>, pattern: &str) -> Result<String, String> {
    let expanded: String = tokens(pattern, true)
        .into_iter()
        .map(|t| match t.as_bytes()[0] {
            b'p' | b'P' => long_format(t),
            _ => t.to_string(),
        })
        .collect();
    let mut out = String::new();
    for token in tokens(&expanded, false) {
        if token == "''" {
            out.push('\'');
            continue;
        }
        let first = token.chars().next().unwrap_or(' ');
        if first == '\'' {
            let inner = token.strip_prefix('\'').unwrap_or(token);
            let inner = inner.strip_suffix('\'').unwrap_or(inner);
            out.push_str(&inner.replace("''", "'"));
            continue;
        }
        if let Some(kind) = ["YYYY", "YY", "D", "DD"].iter().find(|p| **p == token) {
            let (good, what) = match *kind {
                "YYYY" => ("yyyy", "years"),
                "YY" => ("yy", "years"),
                "D" => ("d", "days of the month"),
                _ => ("dd", "days of the month"),
            };
            return Err(format!(
                "Use `{good}` instead of `{token}` (in `{pattern}`) for formatting {what} to the \
                 input `{}`; see: https://github.com/date-fns/date-fns/blob/master/docs/unicodeTokens.md",
                js_to_string(d)
            ));
        }
        match format_token(d, token) {
            Some(text) => out.push_str(&text),
            None if first.is_ascii_alphabetic() => {
                return Err(format!(
                    "Format string contains an unescaped latin alphabet character `{first}`"
                ))
            }
            None => out.push_str(token),
        }
    }
    Ok(out)
}

fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// Splits a pattern as date-fns' regular expressions do: the long-format pass
/// (`/P+p+|P+|p+|''|'(''|[^'])+('|$)|./g`) or the token pass
/// (`/[yYQqMLwIdDecihHKkms]o|(\w)\1*|''|'(''|[^'])+('|$)|./g`). Line terminators match no
/// alternative (`.` excludes them), so they drop out of the result, as in date-fns.
fn tokens(s: &str, long_pass: bool) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = s[i..].chars().next() {
        let rest = &s[i..];
        let run = |ch: char| rest.len() - rest.trim_start_matches(ch).len();
        let len = if long_pass && c == 'P' {
            let p = run('P');
            p + (rest[p..].len() - rest[p..].trim_start_matches('p').len())
        } else if long_pass && c == 'p' {
            run('p')
        } else if !long_pass && "yYQqMLwIdDecihHKkms".contains(c) && rest[1..].starts_with('o') {
            2
        } else if !long_pass && (c.is_ascii_alphanumeric() || c == '_') {
            run(c)
        } else if rest.starts_with("''") {
            2
        } else if c == '\'' {
            quoted_len(rest)
        } else if is_line_terminator(c) {
            i += c.len_utf8();
            continue;
        } else {
            c.len_utf8()
        };
        out.push(&rest[..len]);
        i += len;
    }
    out
}

/// `'(''|[^'])+('|$)`, or 1 for a lone quote that starts nothing.
fn quoted_len(rest: &str) -> usize {
    let mut j = 1;
    let mut units = 0;
    loop {
        let tail = &rest[j..];
        if tail.starts_with("''") {
            j += 2;
        } else if let Some(c) = tail.chars().next().filter(|c| *c != '\'') {
            j += c.len_utf8();
        } else {
            break;
        }
        units += 1;
    }
    if units == 0 {
        return 1;
    }
    if rest[j..].starts_with('\'') {
        j += 1;
    }
    j
}

/// en-US `formatLong`: `P`… dates, `p`… times, `PPpp` both.
fn long_format(token: &str) -> String {
    let date = |p: &str| match p {
        "P" => "MM/dd/yyyy",
        "PP" => "MMM d, y",
        "PPP" => "MMMM do, y",
        _ => "EEEE, MMMM do, y",
    };
    let time = |p: &str| match p {
        "p" => "h:mm a",
        "pp" => "h:mm:ss a",
        "ppp" => "h:mm:ss a z",
        _ => "h:mm:ss a zzzz",
    };
    if token.starts_with('p') {
        return time(token).into();
    }
    let split = token.find('p').unwrap_or(token.len());
    let (d, t) = token.split_at(split);
    if t.is_empty() {
        return date(d).into();
    }
    let joiner = if d.len() >= 3 { " 'at' " } else { ", " };
    format!("{}{joiner}{}", date(d), time(t))
}

fn pad(n: i64, len: usize) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{:0>len$}", n.unsigned_abs())
}

fn ordinal(n: i64) -> String {
    let rem100 = n % 100;
    let suffix = if !(10..=20).contains(&rem100) {
        match rem100 % 10 {
            1 => "st",
            2 => "nd",
            3 => "rd",
            _ => "th",
        }
    } else {
        "th"
    };
    format!("{n}{suffix}")
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const QUARTERS: [&str; 4] = ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"];

/// Day names by width: `abbreviated` (Tue), `narrow` (T), `short` (Tu), `wide` (Tuesday).
fn day_name(weekday: usize, len: usize) -> String {
    let wide = DAYS[weekday];
    match len {
        1..=3 => wide[..3].into(),
        5 => wide[..1].into(),
        6 => wide[..2].into(),
        _ => wide.into(),
    }
}

/// Local week-numbering year and week (weeks start on Sunday; week 1 contains 1 January).
fn local_week(date: NaiveDate) -> (i32, i64) {
    let start_of_week = |d: NaiveDate| d - Days::new(u64::from(d.weekday().num_days_from_sunday()));
    let week1 = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).map(start_of_week);
    let year = date.year();
    let week_year = match week1(year + 1) {
        Some(next) if date >= next => year + 1,
        _ => year,
    };
    let first = week1(week_year).unwrap_or(date);
    (week_year, (start_of_week(date) - first).num_days() / 7 + 1)
}

fn format_token(d: &DateTime<Utc>, token: &str) -> Option<String> {
    let len = token.len();
    let ord = token.len() == 2 && token.ends_with('o');
    let num = |n: i64| if ord { ordinal(n) } else { pad(n, len) };
    let date = d.date_naive();
    let year = i64::from(d.year());
    let era_year = if year > 0 { year } else { 1 - year };
    let month = d.month0() as usize;
    let quarter = month / 3 + 1;
    let weekday = d.weekday().num_days_from_sunday() as usize;
    let hour = i64::from(d.hour());
    let text = match token.as_bytes()[0] {
        b'G' => match len {
            1..=3 => if year > 0 { "AD" } else { "BC" }.into(),
            5 => if year > 0 { "A" } else { "B" }.into(),
            _ => if year > 0 {
                "Anno Domini"
            } else {
                "Before Christ"
            }
            .into(),
        },
        b'y' if token == "yy" => pad(era_year % 100, 2),
        b'y' => num(era_year),
        b'Y' => {
            let wy = i64::from(local_week(date).0);
            let wy = if wy > 0 { wy } else { 1 - wy };
            num(wy)
        }
        b'R' => pad(i64::from(date.iso_week().year()), len),
        b'u' => pad(year, len),
        b'Q' | b'q' => match (len, ord) {
            (_, true) => ordinal(quarter as i64),
            (1, _) => quarter.to_string(),
            (2, _) => pad(quarter as i64, 2),
            (3, _) => format!("Q{quarter}"),
            (5, _) => quarter.to_string(),
            _ => QUARTERS[quarter - 1].into(),
        },
        b'M' | b'L' => match (len, ord) {
            (_, true) => ordinal(month as i64 + 1),
            (1, _) => (month + 1).to_string(),
            (2, _) => pad(month as i64 + 1, 2),
            (3, _) => MONTHS[month][..3].into(),
            (5, _) => MONTHS[month][..1].into(),
            _ => MONTHS[month].into(),
        },
        b'w' => num(local_week(date).1),
        b'I' => num(i64::from(date.iso_week().week())),
        b'd' => num(i64::from(d.day())),
        b'D' => num(i64::from(d.ordinal())),
        b'E' => day_name(weekday, len),
        b'e' | b'c' | b'i' => {
            // e/c: local day of week (Sunday = 1); i: ISO day of week (Sunday = 7).
            let n = if token.starts_with('i') {
                if weekday == 0 {
                    7
                } else {
                    weekday as i64
                }
            } else {
                weekday as i64 + 1
            };
            match (len, ord) {
                (_, true) => ordinal(n),
                (1, _) => n.to_string(),
                (2, _) => pad(n, 2),
                (3, _) => day_name(weekday, 3),
                (l, _) => day_name(weekday, l),
            }
        }
        b'a' | b'b' | b'B' => day_period(token, hour),
        b'h' => num(if hour % 12 == 0 { 12 } else { hour % 12 }),
        b'H' => num(hour),
        b'K' => num(hour % 12),
        b'k' => num(if hour == 0 { 24 } else { hour }),
        b'm' => num(i64::from(d.minute())),
        b's' => num(i64::from(d.second())),
        b'S' => {
            let millis = f64::from(d.timestamp_subsec_millis());
            pad((millis * 10f64.powi(len as i32 - 3)).floor() as i64, len)
        }
        b'X' => "Z".into(),
        b'x' => match len {
            1 => "+00".into(),
            2 | 4 => "+0000".into(),
            _ => "+00:00".into(),
        },
        b'O' | b'z' => if len <= 3 { "GMT+0" } else { "GMT+00:00" }.into(),
        b't' => pad(d.timestamp_millis().div_euclid(1000), len),
        b'T' => pad(d.timestamp_millis(), len),
        _ => return None,
    };
    Some(text)
}

/// `a` (AM/PM), `b` (adds noon and midnight), `B` (in the morning, …) in their widths.
fn day_period(token: &str, hour: i64) -> String {
    let len = token.len();
    let period = match token.as_bytes()[0] {
        b'B' => match hour {
            17.. => "evening",
            12.. => "afternoon",
            4.. => "morning",
            _ => "night",
        },
        b'b' if hour == 12 => "noon",
        b'b' if hour == 0 => "midnight",
        _ if hour >= 12 => "pm",
        _ => "am",
    };
    let (abbreviated, narrow, wide) = match period {
        "am" => ("AM", "a", "a.m."),
        "pm" => ("PM", "p", "p.m."),
        "noon" => ("noon", "n", "noon"),
        "midnight" => ("midnight", "mi", "midnight"),
        "morning" => ("in the morning", "in the morning", "in the morning"),
        "afternoon" => ("in the afternoon", "in the afternoon", "in the afternoon"),
        "evening" => ("in the evening", "in the evening", "in the evening"),
        _ => ("at night", "at night", "at night"),
    };
    let is_b_upper = token.starts_with('B');
    match len {
        1 | 2 => abbreviated.into(),
        3 if is_b_upper => abbreviated.into(),
        3 => abbreviated.to_lowercase(),
        5 => narrow.into(),
        _ => wide.into(),
    }
}

#[cfg(test)]
#[path = "date_tests.rs"]
mod tests;
