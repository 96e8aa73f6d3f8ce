use super::*;

#[test]
fn nesting_in_text_strings_segments_and_comments_does_not_count() {
    let parens = "(".repeat(1000);
    for source in [
        format!("{parens} {{{{x}}}}"),
        format!("{{{{f \"{parens}\"}}}}"),
        format!("{{{{f '{parens}'}}}}"),
        format!("{{{{a.[{parens}]}}}}"),
        format!("{{{{!-- {{{{f {parens}}}}} --}}}}"),
        format!("{{{{! {parens} }}}}"),
    ] {
        assert_eq!(check_nesting(&source), Ok(()), "{source}");
    }
}

#[test]
fn nesting_counts_blocks_and_subexpressions_together() {
    let ok = format!(
        "{}{{{{f {}x{}}}}}",
        "{{#if a}}".repeat(30),
        "(f ".repeat(30),
        ")".repeat(30)
    );
    assert_eq!(check_nesting(&ok), Ok(()));
    let deep = format!(
        "{}{{{{f {}x{}}}}}",
        "{{#if a}}".repeat(40),
        "(f ".repeat(40),
        ")".repeat(40)
    );
    assert_eq!(check_nesting(&deep), Err(too_deep()));
    // Closed blocks no longer count.
    let sequential = "{{#if a}}x{{/if}}".repeat(200);
    assert_eq!(check_nesting(&sequential), Ok(()));
}

#[test]
fn where_lexing_is_ambiguous_every_later_parenthesis_counts() {
    let text = "(".repeat(MAX_PARENS_UNLEXED + 1);
    for lead in [
        "\\{{x}}",
        "{{{{raw}}}}{{{{/raw}}}}",
        "{{f {\"a\":1}}}",
        "{{[it's]}}",
    ] {
        assert_eq!(
            check_nesting(&format!("{lead}{text}")),
            Err(too_deep()),
            "{lead}"
        );
        assert_eq!(check_nesting(&format!("{text}{lead}")), Ok(()), "{lead}");
    }
}

#[test]
fn internal_helpers_cannot_be_called_from_a_template() {
    // `#` cannot start a helper name, so `{{##value x}}` is a syntax error …
    assert!(compile("{{##value x}}{{/#value}}").is_err());
    // … and `value` / `path` / `section` are ordinary names.
    let ctx = serde_json::json!({"value": true, "path": 1});
    let rendered = crate::render::tests::render("{{#value}}in{{/value}}[{{path}}{{section}}]", ctx);
    assert_eq!(rendered, "in[1]");
}

#[test]
fn multi_name_paths_become_property_reads_after_the_first_name() {
    let t = compile("{{../a.b.[c d]}}").expect("compiles");
    let debug = format!("{t:?}");
    assert!(debug.contains(PATH) && debug.contains("\"c d\""), "{debug}");
    let single = compile("{{a}}").expect("compiles");
    assert!(!format!("{single:?}").contains(PATH));
}
