use chrono::{TimeZone, Utc};

use super::*;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid date")
        + chrono::Duration::milliseconds(ms)
}

fn fmt(d: &DateTime<Utc>, pattern: &str) -> String {
    format(d, pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

#[test]
fn date_parse_reads_iso_rfc_2822_and_slash_forms() {
    for (text, expected) in [
        ("2024", at(2024, 1, 1, 0, 0, 0, 0)),
        ("2024-03", at(2024, 3, 1, 0, 0, 0, 0)),
        ("2024-01-02", at(2024, 1, 2, 0, 0, 0, 0)),
        ("2024-01-02T10:20", at(2024, 1, 2, 10, 20, 0, 0)),
        ("2024-01-02T10:20:30.123Z", at(2024, 1, 2, 10, 20, 30, 123)),
        ("2024-01-02T10:20:30.1239Z", at(2024, 1, 2, 10, 20, 30, 123)),
        ("2024-01-02T10:20:30.5Z", at(2024, 1, 2, 10, 20, 30, 500)),
        ("2024-01-02T10:20+02:00", at(2024, 1, 2, 8, 20, 0, 0)),
        ("2024-01-02T10:20:00-0530", at(2024, 1, 2, 15, 50, 0, 0)),
        ("2024-01-02 10:20:30", at(2024, 1, 2, 10, 20, 30, 0)),
        ("2024-01-02T24:00:00", at(2024, 1, 3, 0, 0, 0, 0)),
        ("+002024-01-02", at(2024, 1, 2, 0, 0, 0, 0)),
        ("Tue, 02 Jan 2024 10:00:00 GMT", at(2024, 1, 2, 10, 0, 0, 0)),
        ("2 Jan 2024 10:00:00 +0100", at(2024, 1, 2, 9, 0, 0, 0)),
        ("2024/01/02 10:20", at(2024, 1, 2, 10, 20, 0, 0)),
        ("01/02/2024", at(2024, 1, 2, 0, 0, 0, 0)),
    ] {
        assert_eq!(parse(text), Some(expected), "{text}");
    }
    for text in [
        "",
        "hello",
        "2024-13-01",
        "2024-02-30",
        "2024-01-02T25:00",
        "2024-1-2",
        "1700000000000",
        "-000000-01-01",
        "2024-01-02T10",
        "2024-01-02T10:20:30.Z",
        "2024-01-02Z",
        "2024/13/01",
    ] {
        assert_eq!(parse(text), None, "{text}");
    }
    assert_eq!(from_millis(1.9), Some(at(1970, 1, 1, 0, 0, 0, 1)));
    assert_eq!(from_millis(8.7e15), None);
}

#[test]
fn every_date_fns_token_formats_as_the_en_us_locale() {
    // A Friday, the 5th day and 1st (local and ISO) week of 2024.
    let d = at(2024, 1, 5, 9, 5, 3, 7);
    let epoch = d.timestamp();
    for (pattern, expected) in [
        ("G", "AD".to_string()),
        ("GGGG", "Anno Domini".into()),
        ("GGGGG", "A".into()),
        ("y", "2024".into()),
        ("yo", "2024th".into()),
        ("yy", "24".into()),
        ("yyy", "2024".into()),
        ("yyyyy", "02024".into()),
        ("Y", "2024".into()),
        ("YYY", "2024".into()),
        ("Yo", "2024th".into()),
        ("R", "2024".into()),
        ("RRRRR", "02024".into()),
        ("u", "2024".into()),
        ("uu", "2024".into()),
        ("Q", "1".into()),
        ("Qo", "1st".into()),
        ("QQ", "01".into()),
        ("QQQ", "Q1".into()),
        ("QQQQ", "1st quarter".into()),
        ("QQQQQ", "1".into()),
        ("qqq", "Q1".into()),
        ("M", "1".into()),
        ("Mo", "1st".into()),
        ("MM", "01".into()),
        ("MMM", "Jan".into()),
        ("MMMM", "January".into()),
        ("MMMMM", "J".into()),
        ("LLLL", "January".into()),
        ("w", "1".into()),
        ("wo", "1st".into()),
        ("ww", "01".into()),
        ("I", "1".into()),
        ("Io", "1st".into()),
        ("II", "01".into()),
        ("d", "5".into()),
        ("do", "5th".into()),
        ("dd", "05".into()),
        ("DDD", "005".into()),
        ("Do", "5th".into()),
        ("E", "Fri".into()),
        ("EEEE", "Friday".into()),
        ("EEEEE", "F".into()),
        ("EEEEEE", "Fr".into()),
        ("e", "6".into()),
        ("eo", "6th".into()),
        ("ee", "06".into()),
        ("eee", "Fri".into()),
        ("eeee", "Friday".into()),
        ("c", "6".into()),
        ("cccc", "Friday".into()),
        ("i", "5".into()),
        ("io", "5th".into()),
        ("ii", "05".into()),
        ("iii", "Fri".into()),
        ("iiii", "Friday".into()),
        ("iiiii", "F".into()),
        ("iiiiii", "Fr".into()),
        ("a", "AM".into()),
        ("aa", "AM".into()),
        ("aaa", "am".into()),
        ("aaaa", "a.m.".into()),
        ("aaaaa", "a".into()),
        ("b", "AM".into()),
        ("bbbb", "a.m.".into()),
        ("B", "in the morning".into()),
        ("BBBBB", "in the morning".into()),
        ("h", "9".into()),
        ("ho", "9th".into()),
        ("hh", "09".into()),
        ("H", "9".into()),
        ("HH", "09".into()),
        ("K", "9".into()),
        ("k", "9".into()),
        ("kk", "09".into()),
        ("m", "5".into()),
        ("mm", "05".into()),
        ("mo", "5th".into()),
        ("s", "3".into()),
        ("ss", "03".into()),
        ("S", "0".into()),
        ("SS", "00".into()),
        ("SSS", "007".into()),
        ("SSSS", "0070".into()),
        ("X", "Z".into()),
        ("XXX", "Z".into()),
        ("x", "+00".into()),
        ("xx", "+0000".into()),
        ("xxx", "+00:00".into()),
        ("O", "GMT+0".into()),
        ("OOOO", "GMT+00:00".into()),
        ("z", "GMT+0".into()),
        ("zzzz", "GMT+00:00".into()),
        ("t", epoch.to_string()),
        ("T", format!("{epoch}007")),
        ("P", "01/05/2024".into()),
        ("PP", "Jan 5, 2024".into()),
        ("PPP", "January 5th, 2024".into()),
        ("PPPP", "Friday, January 5th, 2024".into()),
        ("p", "9:05 AM".into()),
        ("pp", "9:05:03 AM".into()),
        ("ppp", "9:05:03 AM GMT+0".into()),
        ("pppp", "9:05:03 AM GMT+00:00".into()),
        ("Pp", "01/05/2024, 9:05 AM".into()),
        (
            "PPPPpppp",
            "Friday, January 5th, 2024 at 9:05:03 AM GMT+00:00".into(),
        ),
    ] {
        assert_eq!(fmt(&d, pattern), expected, "{pattern}");
    }
}

#[test]
fn hours_and_day_periods_cover_midnight_noon_and_evening() {
    let midnight = at(2024, 1, 5, 0, 0, 0, 0);
    let noon = at(2024, 1, 5, 12, 0, 0, 0);
    let evening = at(2024, 1, 5, 18, 0, 0, 0);
    let night = at(2024, 1, 5, 2, 0, 0, 0);
    let afternoon = at(2024, 1, 5, 13, 0, 0, 0);
    assert_eq!(
        fmt(&midnight, "h a|k|K|H|b|bbb|bbbbb"),
        "12 AM|24|0|0|midnight|midnight|mi"
    );
    assert_eq!(fmt(&noon, "h a|k|K|b|bbbbb|aaaaa"), "12 PM|12|0|noon|n|p");
    assert_eq!(fmt(&evening, "B|h:mm aaa"), "in the evening|6:00 pm");
    assert_eq!(fmt(&night, "B"), "at night");
    assert_eq!(fmt(&afternoon, "BBBB"), "in the afternoon");
}

#[test]
fn week_years_and_eras_follow_date_fns() {
    // Sunday 29 December 2024 starts the week holding 1 January 2025.
    assert_eq!(
        fmt(&at(2024, 12, 29, 0, 0, 0, 0), "Y w R I"),
        "2025 1 2024 52"
    );
    assert_eq!(fmt(&at(2024, 12, 28, 0, 0, 0, 0), "Y w"), "2024 52");
    assert_eq!(
        fmt(&at(2021, 1, 3, 0, 0, 0, 0), "Y w R I"),
        "2021 2 2020 53"
    );
    let year_zero = at(0, 6, 1, 0, 0, 0, 0);
    assert_eq!(fmt(&year_zero, "G y u"), "BC 1 0");
    assert_eq!(
        fmt(&at(-5, 6, 1, 0, 0, 0, 0), "GGGG yyyy uuuu R"),
        "Before Christ 0006 -0005 -5"
    );
}

#[test]
fn quotes_literals_and_line_breaks_behave_as_in_date_fns() {
    let d = at(2024, 1, 5, 9, 5, 3, 7);
    for (pattern, expected) in [
        ("'Today is' EEEE", "Today is Friday"),
        ("''", "'"),
        ("'it''s' h a", "it's 9 AM"),
        ("h 'o''clock'", "9 o'clock"),
        ("'unterminated", "unterminated"),
        ("yyyy\nMM\r\u{2028}dd", "20240105"),
        ("yyyy-MM-dd 12:00", "2024-01-05 12:00"),
        ("yyyy年MM月dd日", "2024年01月05日"),
        ("'P' PP", "P Jan 5, 2024"),
        ("[yyyy] (MM) {dd} #1 ~", "[2024] (01) {05} #1 ~"),
    ] {
        assert_eq!(fmt(&d, pattern), expected, "{pattern:?}");
    }
}

#[test]
fn protected_tokens_and_unknown_letters_fail() {
    let d = at(2024, 1, 5, 10, 0, 0, 0);
    let input = "Fri Jan 05 2024 10:00:00 GMT+0000 (Coordinated Universal Time)";
    let see = "see: https://github.com/date-fns/date-fns/blob/master/docs/unicodeTokens.md";
    assert_eq!(
        format(&d, "YY"),
        Err(format!(
            "Use `yy` instead of `YY` (in `YY`) for formatting years to the input `{input}`; {see}"
        ))
    );
    assert_eq!(
        format(&d, "D MMM"),
        Err(format!(
            "Use `d` instead of `D` (in `D MMM`) for formatting days of the month to the input `{input}`; {see}"
        ))
    );
    for (pattern, letter) in [
        ("yyyy-MM-dd n", 'n'),
        ("ddo", 'o'),
        ("Ro", 'o'),
        ("j", 'j'),
        ("Z", 'Z'),
    ] {
        assert_eq!(
            format(&d, pattern),
            Err(format!(
                "Format string contains an unescaped latin alphabet character `{letter}`"
            )),
            "{pattern}"
        );
    }
}
