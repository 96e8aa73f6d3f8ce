//! Renderer-level vectors: escaping, value printing, errors, blocks, odd input.

use serde_json::json;

use super::*;

pub(super) fn render(source: &str, ctx: Value) -> String {
    Renderer::new()
        .render(source, &ctx)
        .unwrap_or_else(|e| panic!("{source:?} failed: {e}"))
}

pub(super) fn render_err(source: &str, ctx: Value) -> String {
    match Renderer::new().render(source, &ctx) {
        Ok(text) => panic!("{source:?} rendered {text:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn double_stash_escapes_six_characters_and_leaves_the_apostrophe() {
    let ctx = json!({"x": "& < > \" ' ` = é"});
    assert_eq!(
        render("{{x}}", ctx.clone()),
        "&amp; &lt; &gt; &quot; ' &#x60; &#x3D; é"
    );
    assert_eq!(render("{{{x}}}", ctx.clone()), "& < > \" ' ` = é");
    assert_eq!(render("{{&x}}", ctx), "& < > \" ' ` = é");
}

#[test]
fn every_encoded_apostrophe_in_the_output_becomes_an_apostrophe_as_novu_does() {
    assert_eq!(
        render("it&#x27;s {{{x}}}", json!({"x": "&#x27;"})),
        "it's '"
    );
}

#[test]
fn helper_output_is_escaped_unless_triple_stashed() {
    let ctx = json!({"x": "a<b"});
    assert_eq!(render("{{uppercase x}}", ctx.clone()), "A&lt;B");
    assert_eq!(render("{{{uppercase x}}}", ctx), "A<B");
}

#[test]
fn a_missing_variable_prints_nothing_at_any_depth() {
    let ctx = json!({"a": {"b": null}, "list": []});
    assert_eq!(
        render("[{{nope}}|{{a.b.c.d}}|{{a.x}}|{{list.[3].y}}]", ctx),
        "[|||]"
    );
}

#[test]
fn values_print_as_javascript_prints_them() {
    let ctx = json!({
        "zero": 0, "no": false, "yes": true, "nil": null, "obj": {"a": 1},
        "arr": [1, 2], "nested": [[1, 2], [3, null], {"a": 1}], "half": 1.5, "two": 2.0,
        "big": 1e21, "tiny": 1e-7, "small": 0.000001, "neg": -0.5,
        "huge": 12345678901234567890u64
    });
    let out = render(
        "{{zero}}|{{no}}|{{yes}}|{{nil}}|{{obj}}|{{arr}}|{{nested}}|{{half}}|{{two}}|{{big}}|\
         {{tiny}}|{{small}}|{{neg}}|{{huge}}",
        ctx,
    );
    assert_eq!(
        out,
        "0|false|true||[object Object]|1,2|1,2,3,,[object Object]|1.5|2|1e+21|1e-7|0.000001|-0.5|\
         12345678901234567000"
    );
}

#[test]
fn length_reads_arrays_and_strings_and_indexes_read_elements() {
    let ctx = json!({"items": [{"n": "a"}, {"n": "b"}], "s": "héllo😀", "o": {"length": 7}});
    assert_eq!(
        render(
            "{{items.length}} {{s.length}} {{o.length}} {{items.[1].n}} {{items.1.n}}",
            ctx
        ),
        "2 7 7 b b"
    );
}

#[test]
fn paths_reach_the_root_the_parent_and_block_params() {
    let ctx = json!({"title": "T", "rows": [{"cells": [1, 2]}, {"cells": []}], "a": {"b": "B"}});
    let out = render(
        "{{#each rows as |row i|}}{{i}}:{{row.cells.length}}:{{../title}}:{{@root.a.b}};{{/each}}",
        ctx,
    );
    assert_eq!(out, "0:2:T:B;1:0:T:B;");
}

#[test]
fn an_unknown_helper_fails_with_handlebars_message_only_when_reached() {
    assert_eq!(
        render_err("{{foo x}}", json!({})),
        "Missing helper: \"foo\""
    );
    assert_eq!(
        render_err("{{#foo x}}y{{/foo}}", json!({})),
        "Missing helper: \"foo\""
    );
    assert_eq!(
        render_err("{{#if (foo 1)}}y{{/if}}", json!({})),
        "Missing helper: \"foo\""
    );
    assert_eq!(
        render_err("{{i18n \"key\"}}", json!({})),
        "Missing helper: \"i18n\""
    );
    assert_eq!(render("{{#if no}}{{foo x}}{{/if}}ok", json!({})), "ok");
    // Without arguments, `(foo)` is `undefined`, as Handlebars.js' helperMissing returns it.
    assert_eq!(render("{{#if (foo)}}a{{else}}b{{/if}}", json!({})), "b");
}

#[test]
fn crate_helpers_that_handlebars_js_lacks_are_plain_variables() {
    let ctx = json!({"len": 3, "and": "x"});
    assert_eq!(render("{{len}}{{and}}{{not}}", ctx), "3x");
    assert_eq!(
        render_err("{{#if (and a b)}}y{{/if}}", json!({})),
        "Missing helper: \"and\""
    );
}

#[test]
fn a_syntax_error_is_a_parse_error_with_its_line() {
    for source in [
        "{{#if x}}open",
        "{{x",
        "{{#if a}}{{/each}}",
        "a\nb\n{{#if}}",
        "{{x y=}}",
    ] {
        let message = render_err(source, json!({}));
        assert!(
            message.starts_with("Parse error on line "),
            "{source:?}: {message}"
        );
    }
    let message = render_err("line one\nline two {{x y=}}\n", json!({}));
    assert!(message.starts_with("Parse error on line 2"), "{message}");
}

#[test]
fn liquid_syntax_fails_with_a_clear_error_instead_of_rendering_literally() {
    assert_eq!(
        render_err("Hi {{ payload.name | upcase }}", json!({})),
        "Liquid filters ({{ x | filter }}) are not supported; use Handlebars helpers such as \
         {{uppercase x}}"
    );
    assert_eq!(
        render_err("{% if payload.vip %}VIP{% endif %}", json!({})),
        "Liquid tags ({% … %}) are not supported; use Handlebars blocks such as {{#if x}}…{{/if}}"
    );
    // Block parameters are no filters, and a lone `{%` is text.
    assert_eq!(
        render("{{#each l as |x|}}{{x}}{{/each}} 50{% ", json!({"l": [1]})),
        "1 50{% "
    );
}

#[test]
fn partials_and_decorators_are_refused() {
    assert_eq!(
        render_err("{{> footer}}", json!({})),
        "Partials are not supported in notification templates"
    );
    let message = render_err("{{#*inline \"p\"}}x{{/inline}}{{> p}}", json!({}));
    assert!(message.contains("not supported"), "{message}");
}

#[test]
fn if_unless_and_with_use_handlebars_js_emptiness() {
    let ctx = json!({"obj": {}, "arr": [], "zero": 0, "text": "", "full": [0]});
    let t = "{{#if obj}}o{{/if}}{{#if arr}}a{{/if}}{{#if zero}}z{{/if}}{{#if zero includeZero=true}}Z{{/if}}\
             {{#if text}}t{{/if}}{{#if full}}f{{/if}}{{#unless arr}}u{{/unless}}";
    assert_eq!(render(t, ctx.clone()), "oZfu");
    assert_eq!(
        render(
            "{{#with obj}}w{{else}}e{{/with}}{{#with zero}}{{this}}{{/with}}",
            ctx
        ),
        "w0"
    );
    assert_eq!(
        render_err("{{#if a b}}x{{/if}}", json!({})),
        "#if requires exactly one argument"
    );
}

#[test]
fn each_iterates_with_javascript_key_order_and_data_variables() {
    let ctx = json!({"o": {"b": 1, "2": "two", "a": 3, "1": "one"}, "l": ["x", "y", "z"]});
    assert_eq!(
        render(
            "{{#each o}}{{@key}}={{this}}@{{@index}};{{/each}}",
            ctx.clone()
        ),
        "1=one@0;2=two@1;b=1@2;a=3@3;"
    );
    assert_eq!(
        render(
            "{{#each l}}{{#if @first}}[{{/if}}{{@key}}{{this}}{{#if @last}}]{{/if}}{{/each}}",
            ctx
        ),
        "[0x1y2z]"
    );
    assert_eq!(
        render("{{#each nope}}x{{else}}empty{{/each}}", json!({})),
        "empty"
    );
    assert_eq!(
        render(
            "{{#each s}}x{{else}}not iterable{{/each}}",
            json!({"s": "abc"})
        ),
        "not iterable"
    );
}

#[test]
fn each_over_a_large_array_renders_every_item() {
    let items: Vec<u32> = (0..100_000).collect();
    let out = render(
        "{{#each items}}{{this}},{{/each}}",
        json!({ "items": items }),
    );
    assert_eq!(
        out.len(),
        items.iter().map(|i| i.to_string().len() + 1).sum::<usize>()
    );
}

#[test]
fn a_block_named_after_a_variable_is_a_mustache_section() {
    let ctx = json!({
        "person": {"name": "Ann"}, "people": [{"name": "A"}, {"name": "B"}], "yes": true,
        "no": false, "none": [], "zero": 0, "name": "top"
    });
    assert_eq!(render("{{#person}}{{name}}{{/person}}", ctx.clone()), "Ann");
    assert_eq!(
        render("{{#people}}{{name}}{{@index}}{{/people}}", ctx.clone()),
        "A0B1"
    );
    assert_eq!(render("{{#yes}}{{name}}{{/yes}}", ctx.clone()), "top");
    assert_eq!(
        render("{{#no}}x{{else}}n{{/no}}{{#none}}x{{else}}e{{/none}}{{#missing}}x{{else}}m{{/missing}}", ctx.clone()),
        "nem"
    );
    assert_eq!(render("{{#zero}}[{{this}}]{{/zero}}", ctx), "[0]");
}

#[test]
fn block_comparisons_render_with_the_current_context() {
    let ctx = json!({"n": 3, "name": "Ann"});
    assert_eq!(
        render(
            "{{#gt n 1}}big {{name}}{{else}}small{{/gt}} {{#lt n 1}}x{{else}}{{@root.name}}{{/lt}}",
            ctx
        ),
        "big Ann Ann"
    );
}

#[test]
fn else_chains_with_blocks_and_nested_scopes_resolve_as_in_handlebars() {
    let ctx = json!({
        "title": "T", "a": {"items": [{"n": 1}, {"n": 2}], "b": {"c": "C"}}, "x": false, "y": 2,
        "person": {"name": "Ann"}, "grid": [[1, 2], [3]]
    });
    let t = "{{#if x}}X{{else if (gt y 1)}}Y{{else}}Z{{/if}}|\
             {{#each a.items}}{{n}}{{../title}}{{@root.a.b.c}}{{/each}}|\
             {{#with a.b}}{{c}}{{../title}}{{/with}}|\
             {{#with person as |p|}}{{p.name}}{{/with}}|\
             {{#each grid}}{{#each this}}{{@../index}}.{{@index}}={{this}} {{/each}}{{/each}}|\
             {{{a.b.c}}}|{{numberFormat y decimalLength=(lookup a.items.length \"x\")}}";
    assert_eq!(render(t, ctx), "Y|1TC2TC|CT|Ann|0.0=1 0.1=2 1.0=3 |C|2.00");
}

#[test]
fn standalone_block_lines_leave_no_blank_lines() {
    let t = "Items:\n{{#each items}}\n- {{this}}\n{{/each}}\n{{!-- note --}}\nDone";
    assert_eq!(
        render(t, json!({"items": ["a", "b"]})),
        "Items:\n- a\n- b\nDone"
    );
}

#[test]
fn whitespace_control_and_comments_behave_as_in_handlebars() {
    let ctx = json!({"a": "A"});
    assert_eq!(
        render("x  {{~a~}}  y{{! note }}{{!-- {{a}} --}}", ctx),
        "xAy"
    );
}

#[test]
fn escaped_mustaches_print_literally() {
    assert_eq!(render("\\{{a}} {{a}}", json!({"a": 1})), "{{a}} 1");
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    let deep_parens = format!("{{{{f {}x{}}}}}", "(f ".repeat(5000), ")".repeat(5000));
    let deep_blocks = format!("{}x{}", "{{#if a}}".repeat(1500), "{{/if}}".repeat(1500));
    let long_chain = format!("{{{{#if a}}}}{}x{{{{/if}}}}", "{{else if a}}".repeat(2000));
    // Closing parentheses hidden in strings must not hide the real nesting.
    let spoofed = format!(
        "{{{{f {}x{}}}}}",
        "(f \")\" \"}}\" ".repeat(2000),
        ")".repeat(2000)
    );
    // Where the lexer cannot tell a `[segment]` from an array literal, every `(` counts.
    let in_brackets = format!("{{{{f [\"] {}x{}}}}}", "(f ".repeat(300), ")".repeat(300));
    for source in [deep_parens, deep_blocks, long_chain, spoofed, in_brackets] {
        assert!(source.len() <= MAX_SOURCE);
        let message = render_err(&source, json!({"a": true}));
        assert_eq!(
            message,
            format!("Template is nested too deeply (more than {MAX_NESTING} levels)")
        );
    }
    // Where lexing is ambiguous, the parser may see up to 256 levels; the tree walk then
    // refuses more than 64, and up to that a template renders.
    let unlexed = |levels: usize| {
        format!(
            "{{{{[it's]}}}}{{{{uppercase {}\"x\"{}}}}}",
            "(lowercase ".repeat(levels),
            ")".repeat(levels)
        )
    };
    let message = render_err(&unlexed(compile::MAX_PARENS_UNLEXED), json!({}));
    assert!(message.contains("nested too deeply"), "{message}");
    assert_eq!(render(&unlexed(60), json!({})), "X");
    let fine = format!("{}x{}", "{{#if a}}".repeat(40), "{{/if}}".repeat(40));
    assert_eq!(render(&fine, json!({"a": true})), "x");
}

#[test]
fn odd_input_never_panics() {
    let long = "{{a}}".repeat(1000);
    let odd = [
        "",
        "{{",
        "}}",
        "{{{",
        "{{{{",
        "{{{{raw}}}}{{x}}{{{{/raw}}}}",
        "{{/if}}",
        "{{else}}",
        "{{#}}",
        "{{^}}",
        "{{^x}}y{{/x}}",
        "\\{{x}}",
        "\\\\{{x}}",
        "{{!-- ",
        "{{!",
        "{{[}}",
        "{{a.[b}}",
        "{{@root}}",
        "{{../../..}}",
        "{{this.this}}",
        "{{#each}}{{/each}}",
        "{{#with}}{{/with}}",
        "{{lookup}}",
        "{{lookup a}}",
        "{{json}}",
        "{{dateFormat}}",
        "{{numberFormat}}",
        "{{#each a as |x y z|}}{{/each}}",
        "{{a b=c d=(e f=g)}}",
        "{{\"str\"}}",
        "{{1}}",
        "{{true}}",
        "{{null}}",
        "{{[a b]}}",
        "{{a.[b c].d}}",
        "{{@index}}",
        "{{@../index}}",
        "{{~#if a~}}{{~else~}}{{~/if~}}",
        "{{#if a}}{{else if b}}{{else}}{{/if}}",
        "{{#each a}}{{#each this}}{{@../index}}{{/each}}{{/each}}",
        "{{f [1,2,[3]] {\"a\":1}}}",
        "\u{0}{{\u{0}}}",
        "{{é}}",
        "{{#é}}{{/é}}",
        "😀{{😀}}",
        "{{a}}}",
        "{{{a}}",
        "{{&}}",
        "{{#> p}}x{{/p}}",
        "{{*dec}}",
        "{{#if (gt)}}{{/if}}",
        "{{sortBy}}",
        "{{groupBy a}}",
        long.as_str(),
    ];
    let ctx = json!({"a": [[1], {"b": 2}], "b": {"c": [null]}, "é": 1, "😀": "x"});
    let renderer = Renderer::new();
    for source in odd {
        let _ = renderer.render(source, &ctx);
        let _ = renderer.render(source, &json!(null));
        let _ = renderer.render(source, &json!([1, 2]));
    }
}

#[test]
fn a_template_over_the_size_limit_is_refused() {
    let source = "x".repeat(MAX_SOURCE + 1);
    assert_eq!(
        render_err(&source, json!({})),
        format!("Template is too large (more than {MAX_SOURCE} bytes)")
    );
    assert_eq!(render(&"x".repeat(MAX_SOURCE), json!({})).len(), MAX_SOURCE);
}

#[test]
fn the_cache_serves_repeated_sources_and_stays_bounded() {
    let renderer = Renderer::new();
    for i in 0..(CACHE_ENTRIES + 10) {
        let source = format!("{{{{x}}}}-{i}");
        assert_eq!(
            renderer.render(&source, &json!({"x": 1})).unwrap(),
            format!("1-{i}")
        );
    }
    assert_eq!(renderer.lock().entries.len(), CACHE_ENTRIES);
    let bytes: usize = renderer.lock().entries.keys().map(String::len).sum();
    assert_eq!(renderer.lock().bytes, bytes);
    // The most recent ones are kept; a failed compile is not cached.
    assert!(renderer
        .lock()
        .entries
        .contains_key(&format!("{{{{x}}}}-{}", CACHE_ENTRIES + 9)));
    let _ = renderer.render("{{#if", &json!({}));
    assert!(!renderer.lock().entries.contains_key("{{#if"));
}

#[test]
fn one_renderer_serves_many_threads() {
    let renderer = Arc::new(Renderer::new());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let renderer = renderer.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let out = renderer
                        .render("{{t}}:{{i}}", &json!({"t": t, "i": i}))
                        .unwrap();
                    assert_eq!(out, format!("{t}:{i}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// Prints how long compiling and rendering take (the reason for the template cache). Run with
/// `cargo test -p herald-core --release render_and_compile_timings -- --ignored --nocapture`.
#[test]
#[ignore = "prints timings; asserts nothing"]
fn render_and_compile_timings() {
    let source = "Hi {{subscriber.firstName}}, order {{orderId}} ({{numberFormat total}}) \
                  {{#each items}}{{name}} x{{qty}}{{#unless @last}}, {{/unless}}{{/each}} \
                  {{#if (gt items.length 2)}}and more{{/if}} {{dateFormat date \"MMM d, yyyy\"}}";
    let ctx = json!({
        "subscriber": {"firstName": "Ann"}, "orderId": "A-1", "total": 1234.5,
        "items": [{"name": "a", "qty": 1}, {"name": "b", "qty": 2}, {"name": "c", "qty": 3}],
        "date": "2024-05-01T10:00:00Z"
    });
    let renderer = Renderer::new();
    let rounds = 2000;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(compile::compile(source).unwrap());
    }
    let compile = start.elapsed() / rounds;
    renderer.render(source, &ctx).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(renderer.render(source, &ctx).unwrap());
    }
    let cached = start.elapsed() / rounds;
    println!("compile {compile:?} per template, render (cached) {cached:?} per render");
}

#[test]
fn random_fragment_templates_never_reach_a_panic() {
    use rand::{Rng, SeedableRng};
    let fragments = [
        "{{",
        "}}",
        "{{{",
        "}}}",
        "{{#",
        "{{/",
        "{{^",
        "{{else",
        "{{>",
        "{{!",
        "--",
        "~",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "'",
        "\\",
        " ",
        "a",
        "b.c",
        "@index",
        "../",
        "this",
        "@root",
        "as |x|",
        "=",
        "1",
        "-2.5",
        "true",
        "null",
        "if",
        "each",
        "with",
        "unless",
        "lookup",
        "gt",
        "eq",
        "equals",
        "json",
        "dateFormat",
        "numberFormat",
        "sortBy",
        "groupBy",
        "unique",
        "pluralize",
        "titlecase",
        "foo",
        "\n",
        "é",
        "😀",
        "{",
        "}",
        "#",
        "*",
        "&",
        ".",
        "/",
        "|",
        ",",
        ":",
    ];
    let ctx = json!({"a": [1, {"b": 2}], "b": {"c": [null, "x"]}, "x": 0, "foo": {"bar": true}});
    let renderer = Renderer::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(10);
    for _ in 0..5000 {
        let len = rng.gen_range(1..24);
        let source: String = (0..len)
            .map(|_| fragments[rng.gen_range(0..fragments.len())])
            .collect();
        if let Err(e) = renderer.render(&source, &ctx) {
            assert!(
                !e.message().contains("could not be"),
                "{source:?} panicked inside the engine: {e}"
            );
        }
    }
}
