//! The helper registry: exactly the helpers a template can call in Novu — Handlebars.js'
//! built-ins (`blocks`), Novu's own (`novu`), `lookup` — plus the internal `#value`, `#path` and
//! `#section` the compiler rewrites templates into. Every helper of the `handlebars` crate that
//! Handlebars.js lacks (`and`, `or`, `not`, `len`, `raw`) is removed, so `{{len}}` is a variable
//! as in Novu.

use std::borrow::Cow;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde_json::Value;

use super::blocks::{Each, If, Log, Missing, Section, With};
use super::compile::{PATH, SECTION, VALUE};
use super::js;
use super::novu::{self, Compare, Test};

/// Every helper name a template can call (the compiler needs to tell helpers from variables).
const NAMES: &[&str] = &[
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "log",
    "helperMissing",
    "blockHelperMissing",
    "json",
    "equals",
    "titlecase",
    "uppercase",
    "lowercase",
    "pluralize",
    "dateFormat",
    "groupBy",
    "unique",
    "sortBy",
    "numberFormat",
    "gt",
    "gte",
    "lt",
    "lte",
    "eq",
    "ne",
];

pub fn is_helper(name: &str) -> bool {
    NAMES.contains(&name)
}

pub fn register(reg: &mut Handlebars<'static>) {
    for extra in ["and", "or", "not", "len", "raw"] {
        reg.unregister_helper(extra);
    }
    reg.register_helper("if", Box::new(If { negate: false }));
    reg.register_helper("unless", Box::new(If { negate: true }));
    reg.register_helper("each", Box::new(Each));
    reg.register_helper("with", Box::new(With));
    reg.register_helper("log", Box::new(Log));
    reg.register_helper("helperMissing", Box::new(Missing));
    reg.register_helper("blockHelperMissing", Box::new(Missing));
    reg.register_helper(SECTION, Box::new(Section));
    let values: [(&str, ValueFn); 13] = [
        (VALUE, |h| Ok(Some(Value::String(js::to_text(arg(h, 0)))))),
        (PATH, path),
        ("lookup", lookup),
        ("json", |h| Ok(js::stringify(arg(h, 0)).map(Value::String))),
        ("titlecase", |h| {
            novu::string_method(arg(h, 0), "split", novu::titlecase)
        }),
        ("uppercase", |h| {
            novu::string_method(arg(h, 0), "toUpperCase", str::to_uppercase)
        }),
        ("lowercase", |h| {
            novu::string_method(arg(h, 0), "toLowerCase", str::to_lowercase)
        }),
        ("pluralize", novu::pluralize),
        ("dateFormat", novu::date_format),
        ("groupBy", novu::group_by),
        ("unique", novu::unique),
        ("sortBy", novu::sort_by),
        ("numberFormat", novu::number_format),
    ];
    for (name, f) in values {
        reg.register_helper(name, Box::new(ValueHelper(f)));
    }
    let comparisons: [(&str, Test, bool); 7] = [
        ("equals", js::loose_equals, true),
        ("gt", js::gt, false),
        ("gte", js::gte, false),
        ("lt", js::lt, false),
        ("lte", js::lte, false),
        ("eq", js::strict_equals, false),
        ("ne", |a, b| !js::strict_equals(a, b), false),
    ];
    for (name, test, block_only) in comparisons {
        reg.register_helper(name, Box::new(Compare { test, block_only }));
    }
}

pub(super) fn fail(message: impl Into<String>) -> RenderError {
    RenderErrorReason::Other(message.into()).into()
}

/// Positional argument `i`; `None` is JavaScript's `undefined` (missing variable or argument).
pub(super) fn arg<'a>(h: &'a Helper<'_>, i: usize) -> Option<&'a Value> {
    h.param(i)
        .filter(|p| !p.is_value_missing())
        .map(|p| p.value())
}

pub(super) fn hash<'a>(h: &'a Helper<'_>, key: &str) -> Option<&'a Value> {
    h.hash_get(key)
        .filter(|p| !p.is_value_missing())
        .map(|p| p.value())
}

/// A helper that returns a value (`None` = `undefined`), usable inline and as a subexpression.
type ValueFn = fn(&Helper<'_>) -> Result<Option<Value>, String>;

struct ValueHelper(ValueFn);

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        match (self.0)(h) {
            Ok(Some(v)) => Ok(ScopedJson::Derived(v)),
            Ok(None) => Ok(ScopedJson::Missing),
            Err(e) => Err(fail(e)),
        }
    }
}

/// `a.b.c` after the first name: JavaScript property reads, `undefined` once one is missing.
fn path(h: &Helper<'_>) -> Result<Option<Value>, String> {
    let mut current = arg(h, 0).map(Cow::Borrowed);
    for seg in h.params().iter().skip(1) {
        let key = seg.value().as_str().unwrap_or_default();
        current = match current {
            None => None,
            Some(Cow::Borrowed(v)) => property(v, key),
            Some(Cow::Owned(v)) => property(&v, key).map(|c| Cow::Owned(c.into_owned())),
        };
    }
    Ok(current.map(Cow::into_owned))
}

fn property<'a>(v: &'a Value, key: &str) -> Option<Cow<'a, Value>> {
    match v {
        Value::Object(map) => map.get(key).map(Cow::Borrowed),
        Value::Array(items) if key != "length" => js::array_index(key)
            .and_then(|i| items.get(i))
            .map(Cow::Borrowed),
        other => js::get_property(Some(other), key).map(Cow::Owned),
    }
}

/// Handlebars.js `lookup obj field`: a falsy `obj` comes back as it is.
fn lookup(h: &Helper<'_>) -> Result<Option<Value>, String> {
    let obj = arg(h, 0);
    if !js::truthy(obj) {
        return Ok(obj.cloned());
    }
    Ok(js::get_property(obj, &js::to_js_string(arg(h, 1))))
}
