//! Handlebars.js' block helpers (`if`, `unless`, `with`, `each`, `blockHelperMissing`) and the
//! two that print nothing (`log`, `helperMissing`), written again because the `handlebars`
//! crate's versions judge truth their own way (`{}` is false there) and iterate objects in
//! insertion order where JavaScript puts array-index keys first.

use handlebars::{
    BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult, Output,
    RenderContext, RenderError, Renderable, ScopedJson,
};
use serde_json::Value;

use super::helpers::{arg, fail, hash};
use super::js;

/// Renders `h`'s block with `value` as the context (`this`), as Handlebars.js' `fn(value)`.
fn render_with<'reg: 'rc, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    let Some(param) = h.param(0) else {
        return Ok(());
    };
    let mut block = BlockContext::new();
    match param.context_path() {
        Some(path) => block.base_path_mut().clone_from(path),
        None => block.set_base_value(param.value().clone()),
    }
    if let Some(parent) = rc.block() {
        block
            .local_variables_mut()
            .clone_from(parent.local_variables());
    }
    if let Some(name) = h.block_param() {
        let mut params = BlockParams::new();
        match param.context_path() {
            Some(_) => params.add_path(name, Vec::new())?,
            None => params.add_value(name, param.value().clone())?,
        }
        block.set_block_params(params);
    }
    rc.push_block(block);
    let result = match h.template() {
        Some(t) => t.render(r, ctx, rc, out),
        None => Ok(()),
    };
    rc.pop_block();
    result
}

fn render_inverse<'reg: 'rc, 'rc>(
    h: &Helper<'rc>,
    r: &'reg Handlebars<'reg>,
    ctx: &'rc Context,
    rc: &mut RenderContext<'reg, 'rc>,
    out: &mut dyn Output,
) -> HelperResult {
    match h.inverse() {
        Some(t) => t.render(r, ctx, rc, out),
        None => Ok(()),
    }
}

/// `#if` / `#unless` with Handlebars.js' emptiness (`{}` is true, `[]` false, `includeZero`).
pub(super) struct If {
    pub(super) negate: bool,
}

impl HelperDef for If {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        if h.params().len() != 1 {
            let name = if self.negate { "unless" } else { "if" };
            return Err(fail(format!("#{name} requires exactly one argument")));
        }
        let value = arg(h, 0);
        let include_zero = js::truthy(hash(h, "includeZero"));
        let falsy = (!include_zero && !js::truthy(value)) || js::is_empty(value);
        let branch = if falsy != self.negate {
            h.inverse()
        } else {
            h.template()
        };
        match branch {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        }
    }
}

/// `#with`: the block with the value as context unless it is empty.
pub(super) struct With;

impl HelperDef for With {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        if h.params().len() != 1 {
            return Err(fail("#with requires exactly one argument"));
        }
        if js::is_empty(arg(h, 0)) {
            render_inverse(h, r, ctx, rc, out)
        } else {
            render_with(h, r, ctx, rc, out)
        }
    }
}

/// A block whose name is no helper (`{{#person}}…{{/person}}`): Handlebars.js'
/// `blockHelperMissing`. `true` renders the block as is, `false`/`null`/`undefined`/`[]` the
/// `{{else}}`, a non-empty array iterates like `#each`, anything else becomes the context.
pub(super) struct Section;

impl HelperDef for Section {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        match arg(h, 0) {
            Some(Value::Bool(true)) => match h.template() {
                Some(t) => t.render(r, ctx, rc, out),
                None => Ok(()),
            },
            None | Some(Value::Null | Value::Bool(false)) => render_inverse(h, r, ctx, rc, out),
            Some(Value::Array(items)) if items.is_empty() => render_inverse(h, r, ctx, rc, out),
            Some(Value::Array(_)) => Each.call(h, r, ctx, rc, out),
            Some(_) => render_with(h, r, ctx, rc, out),
        }
    }
}

/// `#each` over arrays and objects (object keys in JavaScript's order), with `@index`, `@key`,
/// `@first`, `@last` and block params; the `{{else}}` when nothing was iterated.
pub(super) struct Each;

impl HelperDef for Each {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let Some(param) = h.param(0) else {
            return Err(fail("Must pass iterator to #each"));
        };
        let entries: Vec<(Value, String, &Value)> = match param.value() {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), i.to_string(), v))
                .collect(),
            Value::Object(map) => js::ordered_entries(map)
                .into_iter()
                .map(|(k, v)| (Value::String(k.clone()), k.clone(), v))
                .collect(),
            _ => Vec::new(),
        };
        let Some(template) = h.template().filter(|_| !entries.is_empty()) else {
            return render_inverse(h, r, ctx, rc, out);
        };
        let base = param.context_path();
        rc.push_block(BlockContext::new());
        let last = entries.len() - 1;
        for (i, (key, segment, value)) in entries.into_iter().enumerate() {
            if let Some(block) = rc.block_mut() {
                block.set_local_var("first", Value::Bool(i == 0));
                block.set_local_var("last", Value::Bool(i == last));
                block.set_local_var("index", Value::from(i));
                block.set_local_var("key", key.clone());
                match base {
                    Some(path) => {
                        let mut p = path.clone();
                        p.push(segment);
                        *block.base_path_mut() = p;
                    }
                    None => block.set_base_value(value.clone()),
                }
                let names = h.block_param_pair().map(|(v, k)| (v, Some(k)));
                if let Some((value_name, key_name)) = names.or(h.block_param().map(|v| (v, None))) {
                    let mut params = BlockParams::new();
                    match base {
                        Some(_) => params.add_path(value_name, Vec::new())?,
                        None => params.add_value(value_name, value.clone())?,
                    }
                    if let Some(key_name) = key_name {
                        params.add_value(key_name, key)?;
                    }
                    block.set_block_params(params);
                }
            }
            template.render(r, ctx, rc, out)?;
        }
        rc.pop_block();
        Ok(())
    }
}

/// `{{log …}}` writes nothing anywhere: template arguments are payload data, which stays out of
/// the server's logs.
pub(super) struct Log;

impl HelperDef for Log {
    fn call<'reg: 'rc, 'rc>(
        &self,
        _: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        _: &mut dyn Output,
    ) -> HelperResult {
        Ok(())
    }
}

/// `helperMissing` / `blockHelperMissing`: a call with arguments to a name that is no helper
/// fails with Handlebars.js' message; `(name)` without arguments is `undefined`.
pub(super) struct Missing;

impl HelperDef for Missing {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        if h.params().is_empty() && h.hash().is_empty() && !h.is_block() {
            return Ok(ScopedJson::Missing);
        }
        Err(fail(format!("Missing helper: \"{}\"", h.name())))
    }

    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        _: &mut dyn Output,
    ) -> HelperResult {
        self.call_inner(h, r, ctx, rc).map(|_| ())
    }
}
