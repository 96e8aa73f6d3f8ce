//! Novu's helpers (`compile-template.usecase.ts`, Novu 2024): what each returns for every kind
//! of argument, including the odd cases (`numberFormat`'s `decimalLength || 2`, `equals` only
//! as a block, `pluralize`'s strict `=== 1`).

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    Renderable, ScopedJson,
};
use serde_json::{Map, Value};

use super::helpers::{arg, fail, hash};
use super::{date, js};

/// `value?.method()` on something that is not a string fails as JavaScript does.
pub(super) fn string_method(
    v: Option<&Value>,
    method: &str,
    f: impl Fn(&str) -> String,
) -> Result<Option<Value>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Value::String(f(s)))),
        Some(_) => Err(format!("value.{method} is not a function")),
    }
}

/// Novu's `titlecase`: each space-separated word's first UTF-16 unit upper-cased, the rest
/// lower-cased (a first character outside the BMP is a lone surrogate to JavaScript and stays).
pub(super) fn titlecase(s: &str) -> String {
    let words: Vec<String> = s
        .split(' ')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(c) if c.len_utf16() == 1 => {
                    c.to_uppercase().collect::<String>() + &chars.as_str().to_lowercase()
                }
                Some(c) => c.to_string() + &chars.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect();
    words.join(" ")
}

pub(super) fn pluralize(h: &Helper<'_>) -> Result<Option<Value>, String> {
    let one = js::strict_equals(arg(h, 0), Some(&Value::from(1)));
    Ok(arg(h, if one { 1 } else { 2 }).cloned())
}

/// `date && fmt && !Number.isNaN(Date.parse(date)) ? format(new Date(date), fmt) : date`.
pub(super) fn date_format(h: &Helper<'_>) -> Result<Option<Value>, String> {
    let (input, pattern) = (arg(h, 0), arg(h, 1));
    if !js::truthy(input) || !js::truthy(pattern) {
        return Ok(input.cloned());
    }
    let parsed = match input {
        // `new Date(number)` counts milliseconds, once `Date.parse(String(number))` accepted it.
        Some(Value::Number(n)) => {
            let ms = js::as_f64(n);
            date::parse(&js::number_to_string(ms)).and_then(|_| date::from_millis(ms))
        }
        other => date::parse(&js::to_js_string(other)),
    };
    match parsed {
        Some(d) => date::format(&d, &js::to_js_string(pattern)).map(|s| Some(Value::String(s))),
        None => Ok(input.cloned()),
    }
}

fn key_of(h: &Helper<'_>) -> String {
    js::to_js_string(arg(h, 1))
}

/// `[{key, items}]` for items whose property is truthy, keys in JavaScript's object order.
pub(super) fn group_by(h: &Helper<'_>) -> Result<Option<Value>, String> {
    let Some(Value::Array(items)) = arg(h, 0) else {
        return Ok(Some(Value::Array(Vec::new())));
    };
    let prop = key_of(h);
    let mut groups: Map<String, Value> = Map::new();
    for item in items {
        let value = js::get_property(Some(item), &prop);
        if js::truthy(value.as_ref()) {
            let key = js::to_js_string(value.as_ref());
            match groups.get_mut(&key) {
                Some(Value::Array(members)) => members.push(item.clone()),
                _ => {
                    groups.insert(key, Value::Array(vec![item.clone()]));
                }
            }
        }
    }
    let result = js::ordered_entries(&groups)
        .into_iter()
        .map(|(key, members)| {
            let mut group = Map::new();
            group.insert("key".into(), Value::String(key.clone()));
            group.insert("items".into(), members.clone());
            Value::Object(group)
        })
        .collect();
    Ok(Some(Value::Array(result)))
}

/// The distinct truthy values of a property (`undefined`, here `null`, once for the others).
pub(super) fn unique(h: &Helper<'_>) -> Result<Option<Value>, String> {
    let Some(Value::Array(items)) = arg(h, 0) else {
        return Ok(Some(Value::String(String::new())));
    };
    let prop = key_of(h);
    let mut result: Vec<Value> = Vec::new();
    for item in items {
        let value = js::get_property(Some(item), &prop)
            .filter(|v| js::truthy(Some(v)))
            .unwrap_or(Value::Null);
        if !result
            .iter()
            .any(|seen| js::strict_equals(Some(seen), Some(&value)))
        {
            result.push(value);
        }
    }
    Ok(Some(Value::Array(result)))
}

/// `array.sort()` (by `String(item)` in UTF-16 order) or by a property with `<`/`>`.
pub(super) fn sort_by(h: &Helper<'_>) -> Result<Option<Value>, String> {
    let Some(Value::Array(items)) = arg(h, 0) else {
        return Ok(Some(Value::String(String::new())));
    };
    let mut sorted = items.clone();
    if js::truthy(arg(h, 1)) {
        let prop = key_of(h);
        merge_sort(&mut sorted, &|a, b| {
            let x = js::get_property(Some(a), &prop);
            let y = js::get_property(Some(b), &prop);
            js::lt(x.as_ref(), y.as_ref())
        });
    } else {
        merge_sort(&mut sorted, &|a, b| {
            let x = js::to_js_string(Some(a));
            let y = js::to_js_string(Some(b));
            x.encode_utf16().lt(y.encode_utf16())
        });
    }
    Ok(Some(Value::Array(sorted)))
}

/// A stable merge sort taking "a sorts before b". JavaScript comparisons need not be a total
/// order (mixed types, `undefined`), and the standard library's sorts may panic on such input.
fn merge_sort(items: &mut Vec<Value>, before: &dyn Fn(&Value, &Value) -> bool) {
    if items.len() < 2 {
        return;
    }
    let mut right = items.split_off(items.len() / 2);
    merge_sort(items, before);
    merge_sort(&mut right, before);
    let left = std::mem::take(items);
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        // Take from the right only when it sorts strictly before the left: stable.
        if before(b, a) {
            merged.extend(r.next());
        } else {
            merged.extend(l.next());
        }
    }
    merged.extend(l);
    merged.extend(r);
    *items = merged;
}

/// Novu's `numberFormat` (`toFixed`, then a regular expression inserting the separators).
pub(super) fn number_format(h: &Helper<'_>) -> Result<Option<Value>, String> {
    let value = js::parse_float(arg(h, 0));
    let two = Value::from(2);
    let decimal_length = hash(h, "decimalLength")
        .filter(|v| js::truthy(Some(v)))
        .unwrap_or(&two);
    let thousands = match hash(h, "thousandsSep").filter(|v| js::truthy(Some(v))) {
        Some(v) => js::to_js_string(Some(v)),
        None => ",".into(),
    };
    let decimal_sep = match hash(h, "decimalSep").filter(|v| js::truthy(Some(v))) {
        Some(v) => js::to_js_string(Some(v)),
        None => ".".into(),
    };
    let before_non_digit = js::gt(Some(decimal_length), Some(&Value::from(0)));
    let digits = js::to_int32(Some(decimal_length)).max(0) as usize;
    if digits > 100 {
        return Err("toFixed() digits argument must be between 0 and 100".into());
    }
    let fixed = js::to_fixed(value, digits).replacen('.', &decimal_sep, 1);
    Ok(Some(Value::String(group_thousands(
        &fixed,
        &thousands,
        before_non_digit,
    ))))
}

/// `s.replace(/\d(?=(\d{3})+\D)/g, "$&" + sep)` (or `$` instead of `\D`): a digit gets a
/// separator when the run of digits after it has a length divisible by three and ends at a
/// non-digit (or at the end).
fn group_thousands(s: &str, sep: &str, before_non_digit: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + sep.len() * 4);
    for (i, c) in chars.iter().enumerate() {
        out.push(*c);
        if !c.is_ascii_digit() {
            continue;
        }
        let run = chars[i + 1..]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .count();
        let after = chars.get(i + 1 + run);
        let ends_right = if before_non_digit {
            after.is_some()
        } else {
            after.is_none()
        };
        if run >= 3 && run % 3 == 0 && ends_right {
            out.push_str(sep);
        }
    }
    out
}

pub(super) type Test = fn(Option<&Value>, Option<&Value>) -> bool;

/// `gt gte lt lte eq ne` (boolean inline, `{{else}}`-able block) and `equals` (block only).
pub(super) struct Compare {
    pub(super) test: Test,
    /// Novu's `equals` calls `options.fn`/`options.inverse` unconditionally.
    pub(super) block_only: bool,
}

impl HelperDef for Compare {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let result = (self.test)(arg(h, 0), arg(h, 1));
        if self.block_only {
            let missing = if result {
                "options.fn"
            } else {
                "options.inverse"
            };
            return Err(fail(format!("{missing} is not a function")));
        }
        Ok(ScopedJson::Derived(Value::Bool(result)))
    }

    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        if !h.is_block() {
            let value = self.call_inner(h, r, ctx, rc)?;
            out.write(&js::to_text(Some(value.as_json())))?;
            return Ok(());
        }
        // Rendered with the current context: see the module docs of `render` for Novu's quirk.
        let branch = if (self.test)(arg(h, 0), arg(h, 1)) {
            h.template()
        } else {
            h.inverse()
        };
        match branch {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "novu_tests.rs"]
mod tests;
