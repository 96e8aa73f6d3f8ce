//! Step text rendering: Novu's Handlebars templates, rendered so that a template prints in Herald
//! what it prints in Novu (handlebars.js 4.7 with Novu's helpers, `compile-template.usecase.ts`).
//!
//! One [`Renderer`] is built at start-up and shared by every worker task. It keeps compiled
//! templates in a small bounded cache keyed by source: a workflow has a handful of texts that
//! are rendered for every recipient, and compiling costs about eight times a render (a typical
//! chat text: ~100 µs to compile, ~12 µs to render, release build; the ignored
//! `render_and_compile_timings` test prints both).
//!
//! What Novu does and Herald keeps:
//! * Non-strict: a missing variable prints nothing.
//! * `{{x}}` escapes `& < > " \` =` as `&amp; &lt; &gt; &quot; &#x60; &#x3D;`; `'` is left as is
//!   (Novu escapes it to `&#x27;`, then turns every `&#x27;` of the output back into `'`, which
//!   Herald does too). `{{{x}}}` prints raw.
//! * Values print as JavaScript's `String(x)`: `0`, `false`, `1.5`, `2` (not `2.0`),
//!   `[object Object]`, arrays as `1,2`; `{{items.length}}` is the array's length.
//! * Unknown helper → `Missing helper: "foo"`; syntax error → `Parse error on line …`. Either
//!   fails the step, and [`RenderError`]'s text is the reason recorded.
//! * Helpers: `json equals titlecase uppercase lowercase pluralize dateFormat groupBy unique
//!   sortBy numberFormat gt gte lt lte eq ne`, plus Handlebars.js' `if unless each with lookup
//!   log`. `dateFormat` takes date-fns patterns (`yyyy-MM-dd`, `MMM d, yyyy`), formats in UTC
//!   and fails on `YYYY`/`DD` as date-fns does (see `date`).
//! * Mustache sections: `{{#person}}…{{/person}}` for a name that is no helper.
//! * v2 workflows use the same engine with the namespaced context (`{{payload.orderId}}`);
//!   LiquidJS syntax (Novu's v2 engine: `{{ x | upcase }}`, `{% if %}`) fails with a clear
//!   error instead of printing literally.
//!
//! Where Herald deliberately differs:
//! * Block comparisons (`{{#gt n 1}}…{{/gt}}`) render their block with the current context.
//!   Novu's arrow-function helpers pass the module's `this`, so there `{{name}}` inside renders
//!   empty and only `{{@root.name}}` works; every template that works in Novu renders the same
//!   here, and the ones that silently lost their values in Novu now print them.
//! * `sortBy` returns a sorted copy; Novu sorts the payload array in place, so a later use of
//!   the same array in the template saw it sorted.
//! * Two objects or arrays never compare equal (`eq`, `equals`), as two JSON values are distinct
//!   objects in Novu; comparing an object with itself (`{{#eq a a}}`) is true only in Novu.
//! * Helpers given fewer arguments see `undefined` for the missing ones; Handlebars.js passes
//!   its options object in the first missing position (so `{{pluralize n "item"}}` printed
//!   `[object Object]` for `n ≠ 1`, and prints nothing here).
//! * `{{log}}` logs nothing: arguments are payload data, which stays out of the server logs.
//! * `groupBy` keys named like `Object.prototype` members (`constructor`, `toString`) group
//!   normally; Novu throws on them. `groupBy`/`unique`/`sortBy` read a property of `null` items
//!   as `undefined` where Novu throws.
//! * Partials and decorators are refused when compiling (Novu registers no partials, so every
//!   `{{> x}}` failed there too, though only when reached). Handlebars.js' `{{#a.b}}` sections
//!   and `{{^x}}` inverted sections do not parse.
//! * Inside a context that is itself an array (`{{#each matrix}}{{foo}}{{/each}}` over arrays of
//!   arrays), a single-name variable fails the render instead of printing nothing (the
//!   `handlebars` crate refuses string indexes into arrays; multi-name paths are handled).
//! * `dateFormat` reads ISO 8601, RFC 2822 and slash dates (`2024/01/31`, `01/31/2024`); the
//!   other lenient forms V8's `Date.parse` accepts come back unchanged.
//! * Templates nested more than [`MAX_NESTING`] levels deep (a bound on stack use) or longer
//!   than [`MAX_SOURCE`] bytes (a bound on compile time) are refused.

mod blocks;
mod compile;
mod context;
mod date;
mod helpers;
mod js;
mod novu;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use handlebars::{Context, Handlebars, RenderContext, RenderErrorReason, Renderable, Template};
use serde_json::Value;

pub use compile::{MAX_NESTING, MAX_SOURCE};
pub use context::{context, subscriber_context};

/// How many compiled templates the cache keeps (least recently used evicted first)…
const CACHE_ENTRIES: usize = 512;
/// …and how many bytes of source they may add up to (a compiled tree is a few times its source).
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Why a template could not be rendered. Its text is the reason a failed step records (Novu:
/// execution detail `Message content could not be generated`, `raw: {"error": "<text>"}`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    message: String,
}

impl RenderError {
    fn new(message: impl Into<String>) -> Self {
        RenderError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Renders step texts. Cheap to share (`Arc<Renderer>`); `render` takes `&self`.
pub struct Renderer {
    registry: Handlebars<'static>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").finish_non_exhaustive()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(false);
        registry.register_escape_fn(escape);
        helpers::register(&mut registry);
        Renderer {
            registry,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Renders `source` against `ctx` (see [`context`]). Never panics: a panic inside the
    /// template engine becomes an error.
    pub fn render(&self, source: &str, ctx: &Value) -> Result<String, RenderError> {
        let template = self.compiled(source)?;
        let data = Context::from(ctx.clone());
        let rendered = catch_unwind(AssertUnwindSafe(|| {
            let mut rc = RenderContext::new(None);
            template.renders(&self.registry, &data, &mut rc)
        }));
        match rendered {
            Ok(Ok(text)) => Ok(text.replace("&#x27;", "'")),
            Ok(Err(e)) => Err(RenderError::new(match e.reason() {
                RenderErrorReason::Other(message) => message.clone(),
                RenderErrorReason::HelperNotFound(name) => format!("Missing helper: \"{name}\""),
                other => other.to_string(),
            })),
            Err(_) => Err(RenderError::new("Template could not be rendered")),
        }
    }

    fn compiled(&self, source: &str) -> Result<Arc<Template>, RenderError> {
        if let Some(t) = self.lock().get(source) {
            return Ok(t);
        }
        // Compiled outside the lock: other workers keep rendering meanwhile.
        let compiled = catch_unwind(|| compile::compile(source))
            .unwrap_or_else(|_| Err("Template could not be compiled".into()))
            .map_err(RenderError::new)?;
        let compiled = Arc::new(compiled);
        self.lock().insert(source, compiled.clone());
        Ok(compiled)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache holds no invariant a panic could break halfway; keep using it.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Renderer>();
};

/// Handlebars.js' `escapeExpression` without `'` (see the module docs).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '`' => out.push_str("&#x60;"),
            '=' => out.push_str("&#x3D;"),
            c => out.push(c),
        }
    }
    out
}

/// Compiled templates by source, least recently used evicted first.
#[derive(Default)]
struct Cache {
    entries: HashMap<String, (Arc<Template>, u64)>,
    bytes: usize,
    clock: u64,
}

impl Cache {
    fn get(&mut self, source: &str) -> Option<Arc<Template>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(source).map(|(t, used)| {
            *used = clock;
            t.clone()
        })
    }

    fn insert(&mut self, source: &str, template: Arc<Template>) {
        if self.entries.contains_key(source) {
            return;
        }
        while self.entries.len() >= CACHE_ENTRIES || self.bytes + source.len() > CACHE_BYTES {
            // A linear scan on a miss of a full cache: rare, and the cache is small.
            let oldest = self.entries.iter().min_by_key(|(_, (_, used))| *used);
            let Some(key) = oldest.map(|(k, _)| k.clone()) else {
                break;
            };
            self.entries.remove(&key);
            self.bytes -= key.len();
        }
        self.clock += 1;
        self.bytes += source.len();
        self.entries
            .insert(source.to_owned(), (template, self.clock));
    }
}

#[cfg(test)]
mod tests;
