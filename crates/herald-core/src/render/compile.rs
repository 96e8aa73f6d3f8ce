//! Compiling a template: bound its nesting, parse it with the `handlebars` crate, then rewrite the
//! tree so that it renders as Handlebars.js does.
//!
//! The rewrite exists because the crate prints values its own way (`2.0`, `[1, 2]`, `[object]`)
//! and fails on `{{items.length}}` (a string index into an array). So:
//! * every `{{x}}`, `{{{x}}}` and `{{helper …}}` becomes `{{#value …}}`, which prints what
//!   JavaScript's `String(x)` prints (and is escaped unless triple-stashed);
//! * every path with more than one name (`a.b.c`) becomes `(#path a "b" "c")`: the crate resolves
//!   the first name (with `../`, `@root`, block params), then each further name is read as
//!   JavaScript reads a property (`length` of arrays and strings, a missing key → `undefined`);
//! * a block whose name is no helper (`{{#person}}…{{/person}}`) becomes `{{#section person}}`,
//!   Handlebars.js' `blockHelperMissing` (a Mustache section).
//!
//! The internal helper names start with `#`, which the template grammar cannot produce, so a
//! template cannot call them.
//!
//! Nesting is bounded before the crate sees the source: its parser checks the stack it has left,
//! but its recursive handling of nested subexpressions afterwards does not, and a few thousand
//! `((((` would overflow a worker's stack, which aborts the process instead of failing a step.

use std::collections::HashMap;

use handlebars::template::{Parameter, Subexpression, Template, TemplateElement};
use handlebars::{Path, PathSeg};
use serde_json::Value;

use super::helpers;

/// How deep blocks (and `{{else}}` chains) and subexpressions may nest. Real templates stay
/// below 10; the bound keeps parsing and rendering far inside a 2 MiB thread stack.
pub const MAX_NESTING: usize = 64;
/// The largest template compiled, in bytes. Chat and push texts are far smaller (Slack caps a
/// message at 40,000 characters, Teams a card at 28 KB, push bodies at 4 KB); the bound exists
/// because the parser's cost grows with the square of the number of mustaches (it computes each
/// one's line and column from the start of the source).
pub const MAX_SOURCE: usize = 32 * 1024;
/// Where the source cannot be read exactly (see [`check_nesting`]), every later `(` counts.
pub(super) const MAX_PARENS_UNLEXED: usize = 256;

pub(super) const VALUE: &str = "#value";
pub(super) const PATH: &str = "#path";
pub(super) const SECTION: &str = "#section";

/// Parses and rewrites `source`; the error is the message a step records.
pub fn compile(source: &str) -> Result<Template, String> {
    if source.len() > MAX_SOURCE {
        return Err(format!(
            "Template is too large (more than {MAX_SOURCE} bytes)"
        ));
    }
    if let Some(open) = source.find("{%") {
        if source[open..].contains("%}") {
            return Err(
                "Liquid tags ({% … %}) are not supported; use Handlebars blocks such as \
                        {{#if x}}…{{/if}}"
                    .into(),
            );
        }
    }
    check_nesting(source)?;
    let mut template = Template::compile(source).map_err(|e| {
        if has_liquid_filter(source) {
            return "Liquid filters ({{ x | filter }}) are not supported; use Handlebars helpers \
                    such as {{uppercase x}}"
                .into();
        }
        let (line, column) = e.pos().unwrap_or((1, 0));
        let reason = e.reason().to_string();
        let reason = reason.lines().next().unwrap_or_default();
        format!("Parse error on line {line}, column {column}: {reason}")
    })?;
    rewrite_template(&mut template, 0)?;
    Ok(template)
}

/// Whether a mustache holds a `|` that is no block parameter list (`as |item|`): v2 templates
/// written for Novu's LiquidJS (`{{ name | upcase }}`). Asked only once parsing failed.
fn has_liquid_filter(source: &str) -> bool {
    source.split("{{").skip(1).any(|tail| {
        let inner = tail.split("}}").next().unwrap_or_default();
        inner.contains('|') && !inner.contains(" as |")
    })
}

fn too_deep() -> String {
    format!("Template is nested too deeply (more than {MAX_NESTING} levels)")
}

/// Bounds how deeply blocks and subexpressions nest by lexing mustaches as the grammar does (strings,
/// `[segment]` literals, comments). Where that is ambiguous (an escaped `\{{`, a raw block, an
/// object literal, quotes inside `[…]`), it stops lexing and counts every remaining `(`, which
/// over-approximates the nesting and so stays safe.
fn check_nesting(src: &str) -> Result<(), String> {
    let b = src.as_bytes();
    let mut i = 0;
    // Open blocks: the parser recurses into each (its stack guard would stop it, but with a
    // less helpful message than this one).
    let mut blocks = 0usize;
    let pessimistic = |from: usize, depth: usize| {
        let rest = b[from..].iter().filter(|c| **c == b'(').count();
        if depth + rest > MAX_PARENS_UNLEXED {
            Err(too_deep())
        } else {
            Ok(())
        }
    };
    let find = |from: usize, pat: &[u8]| -> Option<usize> {
        b.get(from..)?
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| from + p)
    };
    while i < b.len() {
        if !b[i..].starts_with(b"{{") {
            i += 1;
            continue;
        }
        if (i > 0 && b[i - 1] == b'\\') || b[i..].starts_with(b"{{{{") {
            return pessimistic(i, 0);
        }
        if b[i..].starts_with(b"{{!") {
            let end = if b[i..].starts_with(b"{{!--") {
                find(i + 5, b"--}}").map(|e| e + 4)
            } else {
                None
            };
            match end.or_else(|| find(i + 3, b"}}").map(|e| e + 2)) {
                Some(e) => i = e,
                None => return Ok(()),
            }
            continue;
        }
        // Inside a mustache: skip its opening braces, then lex to the closing `}}`.
        let mut j = i + 2;
        if b.get(j) == Some(&b'{') {
            j += 1;
        }
        let tag = b[j..]
            .iter()
            .find(|c| !matches!(c, b'~' | b' ' | b'\t' | b'\r' | b'\n'));
        match tag {
            Some(b'#') => blocks += 1,
            Some(b'/') => blocks = blocks.saturating_sub(1),
            _ => {}
        }
        let mut depth = blocks;
        if depth > MAX_NESTING {
            return Err(too_deep());
        }
        loop {
            let Some(&c) = b.get(j) else {
                return Ok(());
            };
            match c {
                b'}' if b.get(j + 1) == Some(&b'}') => {
                    i = j + 2;
                    break;
                }
                b'"' | b'\'' => {
                    j += 1;
                    while let Some(&s) = b.get(j) {
                        if s == b'\\' {
                            j += 2;
                            continue;
                        }
                        j += 1;
                        if s == c {
                            break;
                        }
                    }
                    continue;
                }
                b'[' => {
                    let end = b[j..].iter().position(|s| *s == b']').map(|p| j + p);
                    match end {
                        Some(e) if !b[j..e].iter().any(|s| matches!(s, b'"' | b'\'')) => j = e,
                        _ => return pessimistic(j, depth),
                    }
                }
                b'{' => return pessimistic(j, depth),
                b'(' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(too_deep());
                    }
                }
                b')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            j += 1;
        }
    }
    Ok(())
}

fn rewrite_template(t: &mut Template, depth: usize) -> Result<(), String> {
    if depth > MAX_NESTING {
        return Err(too_deep());
    }
    for element in &mut t.elements {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::Expression(ht) | TemplateElement::HtmlExpression(ht) => {
                rewrite_params(&mut ht.params, &mut ht.hash, depth)?;
                let name = std::mem::replace(&mut ht.name, Parameter::Name(VALUE.into()));
                let printed = if ht.params.is_empty() && ht.hash.is_empty() {
                    match name.as_name() {
                        Some(n) if helpers::is_helper(n) => {
                            helper_call(name, Vec::new(), HashMap::new())
                        }
                        _ => rewrite_path(name),
                    }
                } else {
                    let params = std::mem::take(&mut ht.params);
                    let hash = std::mem::take(&mut ht.hash);
                    helper_call(name, params, hash)
                };
                ht.params = vec![printed];
            }
            TemplateElement::HelperBlock(ht) => {
                rewrite_params(&mut ht.params, &mut ht.hash, depth)?;
                for inner in [&mut ht.template, &mut ht.inverse].into_iter().flatten() {
                    rewrite_template(inner, depth + 1)?;
                }
                let known = ht.name.as_name().is_some_and(helpers::is_helper);
                if !known && ht.params.is_empty() && ht.hash.is_empty() {
                    // A section: its name is a path into the context.
                    let name = std::mem::replace(&mut ht.name, Parameter::Name(SECTION.into()));
                    let path = match name {
                        Parameter::Name(n) => Path::parse(&n)
                            .map(Parameter::Path)
                            .map_err(|e| e.to_string())?,
                        other => other,
                    };
                    ht.params = vec![rewrite_path(path)];
                }
                // A block naming an unknown helper with arguments reaches `blockHelperMissing`,
                // which fails with Handlebars.js' message when (and only if) it is rendered.
            }
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                return Err("Partials are not supported in notification templates".into())
            }
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                return Err("Decorators are not supported in notification templates".into())
            }
            _ => return Err("Unsupported template construct".into()),
        }
    }
    Ok(())
}

fn helper_call(
    name: Parameter,
    params: Vec<Parameter>,
    hash: HashMap<String, Parameter>,
) -> Parameter {
    Parameter::Subexpression(Subexpression::new(name, params, hash))
}

fn rewrite_params(
    params: &mut [Parameter],
    hash: &mut HashMap<String, Parameter>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_NESTING {
        return Err(too_deep());
    }
    for p in params.iter_mut().chain(hash.values_mut()) {
        match p {
            Parameter::Path(_) => {
                let path = std::mem::replace(p, Parameter::Literal(Value::Null));
                *p = rewrite_path(path);
            }
            Parameter::Subexpression(sub) => {
                if let TemplateElement::Expression(ht) = sub.element.as_mut() {
                    rewrite_params(&mut ht.params, &mut ht.hash, depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `a.b.c` → `(#path a "b" "c")`; single names and other parameters stay as they are.
fn rewrite_path(p: Parameter) -> Parameter {
    let Parameter::Path(Path::Relative((segs, raw))) = p else {
        return p;
    };
    let first_named = segs.iter().position(|s| matches!(s, PathSeg::Named(_)));
    let tail_names: Option<Vec<String>> = first_named.and_then(|first| {
        segs[first + 1..]
            .iter()
            .map(|s| match s {
                PathSeg::Named(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    });
    match (first_named, tail_names) {
        (Some(first), Some(tail)) if !tail.is_empty() => {
            let head = Path::Relative((segs[..=first].to_vec(), raw));
            let mut params = vec![Parameter::Path(head)];
            params.extend(
                tail.into_iter()
                    .map(|n| Parameter::Literal(Value::String(n))),
            );
            helper_call(Parameter::Name(PATH.into()), params, HashMap::new())
        }
        _ => Parameter::Path(Path::Relative((segs, raw))),
    }
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
