//! Novu's helpers, each with its edge cases, rendered end to end.

use serde_json::json;

use crate::render::tests::{render, render_err};

#[test]
fn json_stringifies_as_javascript_and_is_escaped_unless_triple_stashed() {
    let ctx = json!({"o": {"b": [1, 2.0, "x\"y"], "2": null, "a": true}, "s": "é\n"});
    assert_eq!(
        render("{{{json o}}}", ctx.clone()),
        r#"{"2":null,"b":[1,2,"x\"y"],"a":true}"#
    );
    assert_eq!(
        render("{{json o}}", ctx.clone()),
        "{&quot;2&quot;:null,&quot;b&quot;:[1,2,&quot;x\\&quot;y&quot;],&quot;a&quot;:true}"
    );
    assert_eq!(
        render("{{{json s}}}|{{json nope}}|{{json 0}}", ctx),
        "\"é\\n\"||0"
    );
}

#[test]
fn equals_is_a_block_with_loose_equality() {
    let t = "{{#equals a b}}y{{else}}n{{/equals}}";
    for (a, b, expected) in [
        (json!(1), json!("1"), "y"),
        (json!(true), json!(1), "y"),
        (json!("a"), json!("a"), "y"),
        (json!(0), json!(""), "y"),
        (json!(null), json!(0), "n"),
        (json!([1, 2]), json!("1,2"), "y"),
        (json!({}), json!({}), "n"),
        (json!("a"), json!("b"), "n"),
    ] {
        assert_eq!(render(t, json!({"a": a, "b": b})), expected, "{a} == {b}");
    }
    // Both undefined, and null == undefined.
    assert_eq!(render(t, json!({})), "y");
    assert_eq!(render(t, json!({"a": null})), "y");
    assert_eq!(render("{{#equals 1 2}}y{{/equals}}", json!({})), "");
    assert_eq!(
        render_err("{{equals 1 1}}", json!({})),
        "options.fn is not a function"
    );
    assert_eq!(
        render_err("{{equals 1 2}}", json!({})),
        "options.inverse is not a function"
    );
}

#[test]
fn titlecase_uppercase_and_lowercase_work_on_strings_only() {
    let ctx = json!({"s": "hello WORLD  élan straße", "n": 5});
    assert_eq!(
        render("{{titlecase s}}", ctx.clone()),
        "Hello World  Élan Straße"
    );
    assert_eq!(
        render("{{uppercase s}}", ctx.clone()),
        "HELLO WORLD  ÉLAN STRASSE"
    );
    assert_eq!(
        render("{{lowercase s}}", ctx.clone()),
        "hello world  élan straße"
    );
    assert_eq!(
        render(
            "[{{titlecase nope}}{{uppercase nope}}{{lowercase nope}}]",
            ctx.clone()
        ),
        "[]"
    );
    assert_eq!(
        render_err("{{titlecase n}}", ctx.clone()),
        "value.split is not a function"
    );
    assert_eq!(
        render_err("{{uppercase n}}", ctx.clone()),
        "value.toUpperCase is not a function"
    );
    assert_eq!(
        render_err("{{lowercase n}}", ctx),
        "value.toLowerCase is not a function"
    );
}

#[test]
fn pluralize_picks_the_singular_only_for_the_number_one() {
    let t = "{{pluralize n \"item\" \"items\"}}";
    for (n, expected) in [
        (json!(1), "item"),
        (json!(1.0), "item"),
        (json!(0), "items"),
        (json!(2), "items"),
        (json!("1"), "items"),
    ] {
        assert_eq!(render(t, json!({ "n": n })), expected, "{n}");
    }
    assert_eq!(render(t, json!({})), "items");
}

#[test]
fn date_format_takes_date_fns_patterns() {
    let ctx =
        json!({"d": "2024-01-05T09:05:03.007Z", "local": "2024-01-05 21:30", "day": "2024-03-10"});
    for (pattern, expected) in [
        ("yyyy-MM-dd", "2024-01-05"),
        ("dd/MM/yyyy HH:mm", "05/01/2024 09:05"),
        ("MMM d, yyyy", "Jan 5, 2024"),
        ("EEEE", "Friday"),
        ("h:mm a", "9:05 AM"),
        ("PPpp", "Jan 5, 2024, 9:05:03 AM"),
        ("do 'of' MMMM", "5th of January"),
    ] {
        let source = format!("{{{{dateFormat d \"{pattern}\"}}}}");
        assert_eq!(render(&source, ctx.clone()), expected, "{pattern}");
    }
    assert_eq!(
        render("{{dateFormat local \"h:mm aaa\"}}", ctx.clone()),
        "9:30 pm"
    );
    assert_eq!(render("{{dateFormat day \"EEE do\"}}", ctx), "Sun 10th");
}

#[test]
fn date_format_returns_what_it_cannot_format_unchanged() {
    let ctx = json!({"bad": "next tuesday", "d": "2024-01-05", "zero": 0, "n": 1700000000000u64});
    assert_eq!(
        render("{{dateFormat bad \"yyyy\"}}", ctx.clone()),
        "next tuesday"
    );
    assert_eq!(render("{{dateFormat d}}", ctx.clone()), "2024-01-05");
    assert_eq!(render("[{{dateFormat nope \"yyyy\"}}]", ctx.clone()), "[]");
    assert_eq!(render("{{dateFormat zero \"yyyy\"}}", ctx.clone()), "0");
    // `Date.parse("1700000000000")` is NaN, so a millisecond timestamp comes back as it is.
    assert_eq!(render("{{dateFormat n \"yyyy\"}}", ctx), "1700000000000");
    // A number that `Date.parse` reads as a year is then taken as milliseconds by `new Date`.
    assert_eq!(
        render(
            "{{dateFormat 2024 \"yyyy-MM-dd'T'HH:mm:ss.SSS\"}}",
            json!({})
        ),
        "1970-01-01T00:00:02.024"
    );
}

#[test]
fn date_format_fails_as_date_fns_does() {
    let ctx = json!({"d": "2024-01-05T10:00:00Z"});
    assert_eq!(
        render_err("{{dateFormat d \"YYYY-MM-DD\"}}", ctx.clone()),
        "Use `yyyy` instead of `YYYY` (in `YYYY-MM-DD`) for formatting years to the input \
         `Fri Jan 05 2024 10:00:00 GMT+0000 (Coordinated Universal Time)`; see: \
         https://github.com/date-fns/date-fns/blob/master/docs/unicodeTokens.md"
    );
    assert_eq!(
        render_err("{{dateFormat d \"yyyy-MM-DD\"}}", ctx.clone()),
        "Use `dd` instead of `DD` (in `yyyy-MM-DD`) for formatting days of the month to the input \
         `Fri Jan 05 2024 10:00:00 GMT+0000 (Coordinated Universal Time)`; see: \
         https://github.com/date-fns/date-fns/blob/master/docs/unicodeTokens.md"
    );
    assert_eq!(
        render_err("{{dateFormat d \"today\"}}", ctx),
        "Format string contains an unescaped latin alphabet character `o`"
    );
}

#[test]
fn group_by_groups_truthy_keys_in_javascript_object_order() {
    let ctx = json!({"items": [
        {"cat": "b", "n": 1}, {"cat": "a", "n": 2}, {"n": 3}, {"cat": "", "n": 4},
        {"cat": "b", "n": 5}, {"cat": 10, "n": 6}, {"cat": 2, "n": 7}, null
    ]});
    let t = "{{#each (groupBy items \"cat\")}}{{key}}:{{#each items}}{{n}}{{/each}};{{/each}}";
    assert_eq!(render(t, ctx), "2:7;10:6;b:15;a:2;");
    assert_eq!(
        render("[{{groupBy text \"x\"}}]", json!({"text": "abc"})),
        "[]"
    );
}

#[test]
fn unique_keeps_first_occurrences_and_one_undefined() {
    let ctx = json!({"items": [
        {"c": "a"}, {}, {"c": "b"}, {"c": "a"}, {"c": 0}, {"c": {"x": 1}}, {"c": {"x": 1}}
    ]});
    assert_eq!(
        render("{{unique items \"c\"}}", ctx),
        "a,,b,[object Object],[object Object]"
    );
    assert_eq!(render("[{{unique 5 \"c\"}}]", json!({})), "[]");
}

#[test]
fn sort_by_sorts_a_copy_by_property_or_by_text() {
    let ctx = json!({
        "people": [{"n": "b", "a": 30}, {"n": "c", "a": 4}, {"n": "a", "a": 30}, {"n": "d"}],
        "nums": [10, 9, 1, 100], "mixed": [3, "b", null, {"a": 1}, [2], true, "a"]
    });
    assert_eq!(
        render(
            "{{#each (sortBy people \"a\")}}{{n}}{{/each}} {{#each people}}{{n}}{{/each}}",
            ctx.clone()
        ),
        "cbad bcad"
    );
    assert_eq!(
        render("{{#each (sortBy people \"n\")}}{{n}}{{/each}}", ctx.clone()),
        "abcd"
    );
    assert_eq!(render("{{sortBy nums}}", ctx.clone()), "1,10,100,9");
    assert_eq!(
        render("{{sortBy mixed}}", ctx.clone()),
        "2,3,[object Object],a,b,,true"
    );
    // Inconsistent comparisons (mixed types) neither panic nor lose items.
    assert_eq!(render("{{sortBy mixed \"a\"}}", ctx).split(',').count(), 7);
    assert_eq!(render("[{{sortBy 5}}]", json!({})), "[]");
}

#[test]
fn number_format_matches_novu_including_its_quirks() {
    for (source, expected) in [
        ("{{numberFormat 1234567.891}}", "1,234,567.89"),
        ("{{numberFormat 1000}}", "1,000.00"),
        ("{{numberFormat 123}}", "123.00"),
        ("{{numberFormat -1234.5}}", "-1,234.50"),
        ("{{numberFormat \"12px\"}}", "12.00"),
        ("{{numberFormat \"abc\"}}", "NaN"),
        ("{{numberFormat nope}}", "NaN"),
        ("{{numberFormat 1.005}}", "1.00"),
        ("{{numberFormat 0.125}}", "0.13"),
        ("{{numberFormat big}}", "1e+21"),
        // `decimalLength || 2`: 0 means 2; the string "0" means none.
        (
            "{{numberFormat 1234567.891 decimalLength=0}}",
            "1,234,567.89",
        ),
        (
            "{{numberFormat 1234567.891 decimalLength=\"0\"}}",
            "1,234,568",
        ),
        ("{{numberFormat 2.5 decimalLength=\"0\"}}", "3"),
        (
            "{{numberFormat 1234567.891 decimalLength=3 thousandsSep=\".\" decimalSep=\",\"}}",
            "1.234.567,891",
        ),
        (
            "{{numberFormat 1234567 thousandsSep=\" \"}}",
            "1 234 567.00",
        ),
        ("{{numberFormat 1234.5678 decimalLength=1}}", "1,234.6"),
    ] {
        assert_eq!(render(source, json!({"big": 1e21})), expected, "{source}");
    }
    assert_eq!(
        render_err("{{numberFormat 1 decimalLength=101}}", json!({})),
        "toFixed() digits argument must be between 0 and 100"
    );
}

#[test]
fn comparisons_return_booleans_inline_and_choose_a_branch_as_blocks() {
    let ctx = json!({"n": 3, "s": "3", "b": "b", "nil": null});
    assert_eq!(
        render(
            "{{gt n 1}} {{gte n 3}} {{lt n 3}} {{lte n 3}} {{eq n s}} {{ne n s}} {{eq n 3}}",
            ctx.clone()
        ),
        "true true false true false true true"
    );
    assert_eq!(
        render("{{#if (gt n 1)}}many{{else}}one{{/if}}", ctx.clone()),
        "many"
    );
    assert_eq!(
        render(
            "{{#eq n 3}}three{{/eq}}{{#ne n 3}}other{{/ne}}",
            ctx.clone()
        ),
        "three"
    );
    // JavaScript's comparisons: strings by code unit, null as 0, undefined never ordered.
    assert_eq!(
        render(
            "{{gt b \"a\"}} {{gt s 20}} {{gte nil 0}} {{lt nope 1}} {{gte nope nope}}",
            ctx
        ),
        "true false true false false"
    );
}

#[test]
fn lookup_reads_a_property_or_returns_a_falsy_object() {
    let ctx = json!({"o": {"a": "A", "1": "one"}, "l": ["x", "y"], "k": "a"});
    assert_eq!(
        render(
            "{{lookup o k}}{{lookup o 1}}{{lookup l 1}}{{lookup l \"length\"}}[{{lookup nope k}}]",
            ctx
        ),
        "Aoney2[]"
    );
}

#[test]
fn log_prints_and_records_nothing() {
    assert_eq!(render("a{{log \"secret\" x}}b", json!({"x": 1})), "ab");
}
