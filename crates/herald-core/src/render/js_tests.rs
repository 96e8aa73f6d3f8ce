use serde_json::json;

use super::*;

#[test]
fn numbers_print_as_javascript_prints_them() {
    for (x, expected) in [
        (0.1 + 0.2, "0.30000000000000004"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (-1.5, "-1.5"),
        (100.0, "100"),
        (2.0, "2"),
        (f64::MAX, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (-0.0, "0"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Infinity"),
    ] {
        assert_eq!(number_to_string(x), expected, "{x:e}");
    }
}

#[test]
fn to_fixed_rounds_the_exact_value_and_breaks_ties_away_from_zero() {
    for (x, digits, expected) in [
        (1.005, 2, "1.00"),
        (0.125, 2, "0.13"),
        (0.375, 2, "0.38"),
        (10.235, 2, "10.23"),
        (0.5, 0, "1"),
        (1.5, 0, "2"),
        (2.5, 0, "3"),
        (-2.5, 0, "-3"),
        (9.995, 2, "9.99"),
        (99.5, 0, "100"),
        (123.456, 0, "123"),
        (-0.0, 2, "0.00"),
        (-0.001, 2, "-0.00"),
        (1e21, 2, "1e+21"),
        (f64::NAN, 2, "NaN"),
    ] {
        assert_eq!(to_fixed(x, digits), expected, "{x}.toFixed({digits})");
    }
    assert_eq!(to_fixed(1.0, 100), format!("1.{}", "0".repeat(100)));
}

#[test]
fn strings_convert_to_numbers_as_number_and_parse_float_do() {
    for (s, expected) in [
        ("", 0.0),
        (" 12 ", 12.0),
        ("0x1F", 31.0),
        ("0b101", 5.0),
        ("0o17", 15.0),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("+5", 5.0),
        ("-5", -5.0),
        ("\u{a0}7\u{feff}", 7.0),
        ("Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
    ] {
        assert_eq!(string_to_number(s), expected, "{s:?}");
    }
    for s in [
        "inf", "nan", "1_000", "12px", "-0x10", "0x", "1e", "e5", ".", "\u{85}1",
    ] {
        assert!(string_to_number(s).is_nan(), "{s:?}");
    }
    for (v, expected) in [
        (json!("12px"), 12.0),
        (json!("  -.5e2x"), -50.0),
        (json!("1e"), 1.0),
        (json!([1.5, 2]), 1.5),
        (json!("Infinityx"), f64::INFINITY),
        (json!(3), 3.0),
    ] {
        assert_eq!(parse_float(Some(&v)), expected, "{v}");
    }
    for v in [
        json!("abc"),
        json!(null),
        json!(true),
        json!({}),
        json!("e5"),
    ] {
        assert!(parse_float(Some(&v)).is_nan(), "{v}");
    }
    assert!(parse_float(None).is_nan());
}

#[test]
fn loose_and_strict_equality_follow_javascript() {
    let loose = [
        (json!(1), json!("1"), true),
        (json!(1), json!(1.0), true),
        (json!(true), json!("1"), true),
        (json!(false), json!(""), true),
        (json!(false), json!("false"), false),
        (json!(null), json!(false), false),
        (json!("0x10"), json!(16), true),
        (json!([1]), json!(1), true),
        (json!({}), json!("[object Object]"), true),
        (json!([]), json!([]), false),
    ];
    for (a, b, expected) in loose {
        assert_eq!(loose_equals(Some(&a), Some(&b)), expected, "{a} == {b}");
        assert_eq!(loose_equals(Some(&b), Some(&a)), expected, "{b} == {a}");
    }
    assert!(loose_equals(None, Some(&json!(null))));
    assert!(!loose_equals(None, Some(&json!(0))));
    assert!(strict_equals(None, None));
    assert!(!strict_equals(None, Some(&json!(null))));
    assert!(strict_equals(Some(&json!(1)), Some(&json!(1.0))));
    assert!(!strict_equals(Some(&json!(1)), Some(&json!("1"))));
    assert!(!strict_equals(Some(&json!({})), Some(&json!({}))));
}

#[test]
fn relational_comparisons_follow_javascript() {
    let v = |j: Value| Some(j);
    assert!(gt(v(json!("b")).as_ref(), v(json!("a")).as_ref()));
    assert!(gt(v(json!("10")).as_ref(), v(json!(9)).as_ref()));
    assert!(!gt(v(json!("10")).as_ref(), v(json!("9")).as_ref()));
    assert!(gte(v(json!(null)).as_ref(), v(json!(0)).as_ref()));
    assert!(!gte(None, None));
    assert!(!lt(None, v(json!(1)).as_ref()));
    assert!(lte(v(json!([2])).as_ref(), v(json!(2)).as_ref()));
    assert!(lt(v(json!(false)).as_ref(), v(json!(true)).as_ref()));
    // UTF-16 order: U+FF5E sorts after U+1F600 (a surrogate pair starting 0xD83D).
    assert!(gt(
        v(json!("\u{ff5e}")).as_ref(),
        v(json!("\u{1f600}")).as_ref()
    ));
}

#[test]
fn truthiness_and_emptiness_follow_javascript_and_handlebars() {
    for (value, truthy_, empty) in [
        (json!({}), true, false),
        (json!([]), true, true),
        (json!(0), false, false),
        (json!(""), false, true),
        (json!("0"), true, false),
        (json!(null), false, true),
        (json!(5e-324), true, false),
    ] {
        assert_eq!(truthy(Some(&value)), truthy_, "{value}");
        assert_eq!(is_empty(Some(&value)), empty, "{value}");
    }
    assert!(!truthy(None) && is_empty(None));
}

#[test]
fn object_keys_come_in_javascript_order() {
    let map = json!({"b": 1, "10": 2, "a": 3, "2": 4, "01": 5, "-1": 6, "4294967295": 7, "4294967294": 8});
    let keys: Vec<&str> = ordered_entries(map.as_object().expect("object"))
        .into_iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["2", "10", "4294967294", "b", "a", "01", "-1", "4294967295"]
    );
}

#[test]
fn to_int32_wraps_as_the_double_tilde_does() {
    for (v, expected) in [
        (json!(4294967301u64), 5),
        (json!(2147483648u64), -2147483648),
        (json!(-1.9), -1),
        (json!("3.7"), 3),
        (json!("x"), 0),
        (json!(true), 1),
        (json!(null), 0),
    ] {
        assert_eq!(to_int32(Some(&v)), expected, "{v}");
    }
}

#[test]
fn properties_read_objects_arrays_and_strings() {
    let s = json!("a😀");
    assert_eq!(get_property(Some(&s), "length"), Some(json!(3)));
    assert_eq!(get_property(Some(&s), "0"), Some(json!("a")));
    assert_eq!(get_property(Some(&json!([1, 2])), "01"), None);
    assert_eq!(get_property(Some(&json!(5)), "length"), None);
    assert_eq!(to_js_string(None), "undefined");
    assert_eq!(to_js_string(Some(&json!(null))), "null");
    assert_eq!(to_js_string(Some(&json!([null, [1, null]]))), ",1,");
}
