//! The variables a workflow's step texts use, found with the `handlebars` crate's template parser
//! the way Novu finds them with Handlebars.js (`getTemplateVariables`, `ContentService`): they
//! become the trigger's `variables` list, and uses of `tenant.*` / `actor.*` make the workflow
//! require those objects on every trigger ([`ReservedVariables`]).
//!
//! Rules (Novu's): `{{x}}` and `{{helper x}}` (a Novu helper) are String; `{{#each x}}` is Array,
//! and the names used inside it are nested under `x.` (`{{#with x}}` nests without adding `x`);
//! `{{#if x}}` / `{{#unless x}}` with one parameter are Boolean, their contents read at the same
//! level; other block helpers are not looked into. Names must start with a letter or `_`;
//! `this` and `@`-variables are not variables. Names whose first segment is a system object
//! (`subscriber`, `step`, `branding`, `tenant`, `preheader`, `actor`) are dropped, the first
//! occurrence of a name wins, and a text that does not parse contributes nothing (rendering
//! reports the error later).

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::Path;

use super::ReservedVariables;

/// Novu's `TemplateVariableTypeEnum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VariableType {
    String,
    Array,
    Boolean,
}

impl VariableType {
    /// The wire value (`"String"`, `"Array"`, `"Boolean"`).
    pub fn as_str(self) -> &'static str {
        match self {
            VariableType::String => "String",
            VariableType::Array => "Array",
            VariableType::Boolean => "Boolean",
        }
    }
}

/// One variable of a workflow's trigger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateVariable {
    /// Dotted path as written (`orderId`, `payload.items`, `items.name`).
    pub name: String,
    pub kind: VariableType,
}

/// Objects of the render context that are not payload variables.
const SYSTEM_VARIABLES: &[&str] = &[
    "subscriber",
    "step",
    "branding",
    "tenant",
    "preheader",
    "actor",
];

/// Novu's `HandlebarHelpersEnum`: `{{helper x}}` counts `x` only for these helpers.
const NOVU_HELPERS: &[&str] = &[
    "equals",
    "titlecase",
    "uppercase",
    "lowercase",
    "pluralize",
    "dateFormat",
    "unique",
    "groupBy",
    "sortBy",
    "numberFormat",
    "i18n",
    "gt",
    "gte",
    "lt",
    "lte",
    "eq",
    "ne",
];

/// Every variable the texts use, system objects included, in Novu's order (strings, then
/// arrays, then booleans, per nesting level), possibly repeated.
fn all_variables<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<TemplateVariable> {
    let mut out = Vec::new();
    for text in texts {
        if let Ok(template) = Template::compile(text) {
            collect(&template, &mut out);
        }
    }
    out
}

/// The trigger variables of these texts: deduplicated by name (first wins), system objects
/// dropped.
pub fn trigger_variables<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<TemplateVariable> {
    let mut seen = std::collections::HashSet::new();
    all_variables(texts)
        .into_iter()
        .filter(|v| !SYSTEM_VARIABLES.contains(&first_segment(&v.name)))
        .filter(|v| seen.insert(v.name.clone()))
        .collect()
}

/// Every variable the texts use, system objects included (`subscriber.firstName`,
/// `payload.orderId`), deduplicated by name (first wins): what a v2 step describes as its
/// `variables`.
pub fn used_variables<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<TemplateVariable> {
    let mut seen = std::collections::HashSet::new();
    all_variables(texts)
        .into_iter()
        .filter(|v| seen.insert(v.name.clone()))
        .collect()
}

/// Which of `tenant` / `actor` the texts use.
pub fn reserved_variables<'a>(texts: impl IntoIterator<Item = &'a str>) -> ReservedVariables {
    let mut reserved = ReservedVariables::default();
    for v in all_variables(texts) {
        match first_segment(&v.name) {
            "tenant" => reserved.tenant = true,
            "actor" => reserved.actor = true,
            _ => {}
        }
    }
    reserved
}

fn first_segment(name: &str) -> &str {
    name.split(['.', '/']).next().unwrap_or(name)
}

/// A variable name written in a template: a plain path starting with a letter or `_` (Novu's
/// `^[a-zA-Z_]`), not `this` and not a `@` or `../` local.
fn variable_name(p: &Parameter) -> Option<&str> {
    let raw = match p {
        Parameter::Path(Path::Relative((_, raw))) => raw.as_str(),
        Parameter::Name(name) => name.as_str(),
        _ => return None,
    };
    let first = raw.chars().next()?;
    let is_this = raw == "this" || raw.starts_with("this.") || raw.starts_with("this/");
    ((first.is_ascii_alphabetic() || first == '_') && !is_this).then_some(raw)
}

fn collect(template: &Template, out: &mut Vec<TemplateVariable>) {
    let (mut strings, mut arrays, mut booleans) = (Vec::new(), Vec::new(), Vec::new());
    for element in &template.elements {
        match element {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                mustache(h, &mut strings)
            }
            TemplateElement::HelperBlock(h) => block(h, &mut arrays, &mut booleans),
            _ => {}
        }
    }
    out.append(&mut strings);
    out.append(&mut arrays);
    out.append(&mut booleans);
}

fn helper_name(h: &HelperTemplate) -> Option<&str> {
    h.name.as_name()
}

/// `{{x}}`, or `{{helper x …}}` for a Novu helper (`{{i18n}}` reads its hash values).
fn mustache(h: &HelperTemplate, out: &mut Vec<TemplateVariable>) {
    let string = |name: &str| TemplateVariable {
        name: name.to_string(),
        kind: VariableType::String,
    };
    if helper_name(h) == Some("i18n") {
        let mut keys: Vec<&String> = h.hash.keys().collect();
        keys.sort();
        for key in keys {
            if let Some(name) = variable_name(&h.hash[key]) {
                out.push(string(name));
            }
        }
        return;
    }
    match h.params.first() {
        None => {
            if let Some(name) = variable_name(&h.name) {
                out.push(string(name));
            }
        }
        Some(param) => {
            let is_novu_helper = helper_name(h).is_some_and(|n| NOVU_HELPERS.contains(&n));
            if let (true, Some(name)) = (is_novu_helper, variable_name(param)) {
                out.push(string(name));
            }
        }
    }
}

fn block(
    h: &HelperTemplate,
    arrays: &mut Vec<TemplateVariable>,
    booleans: &mut Vec<TemplateVariable>,
) {
    let Some(helper) = helper_name(h) else { return };
    let Some(name) = h.params.first().and_then(variable_name) else {
        return;
    };
    let mut nested = Vec::new();
    if let Some(inner) = &h.template {
        collect(inner, &mut nested);
    }
    match helper {
        "each" | "with" => {
            if helper == "each" {
                arrays.push(TemplateVariable {
                    name: name.to_string(),
                    kind: VariableType::Array,
                });
            }
            arrays.extend(nested.into_iter().map(|v| TemplateVariable {
                name: format!("{name}.{}", v.name),
                kind: v.kind,
            }));
        }
        "if" | "unless" if h.params.len() == 1 => {
            booleans.push(TemplateVariable {
                name: name.to_string(),
                kind: VariableType::Boolean,
            });
            booleans.extend(nested);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(texts: &[&str]) -> Vec<(String, &'static str)> {
        trigger_variables(texts.iter().copied())
            .into_iter()
            .map(|v| (v.name, v.kind.as_str()))
            .collect()
    }

    fn named(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(n, k)| (n.to_string(), *k)).collect()
    }

    #[test]
    fn plain_each_and_if_variables_get_their_types() {
        assert_eq!(
            vars(&["Hi {{name}}: {{#each items}}{{title}}{{/each}} {{#if vip}}*{{/if}}"]),
            named(&[
                ("name", "String"),
                ("items", "Array"),
                ("items.title", "String"),
                ("vip", "Boolean"),
            ])
        );
        assert_eq!(
            vars(&["{{#unless muted}}{{note}}{{/unless}}"]),
            named(&[("muted", "Boolean"), ("note", "String")])
        );
    }

    #[test]
    fn system_objects_are_dropped_and_names_deduplicated_across_texts() {
        assert_eq!(
            vars(&[
                "{{subscriber.firstName}} {{payload.orderId}} {{step.digest}}",
                "{{tenant.name}} {{actor.firstName}} {{payload.orderId}} {{{raw}}}",
            ]),
            named(&[("payload.orderId", "String"), ("raw", "String")])
        );
    }

    #[test]
    fn helpers_count_their_argument_only_when_they_are_novus() {
        assert_eq!(
            vars(&["{{uppercase name}} {{unknownHelper secret}} {{json blob}}"]),
            named(&[("name", "String")])
        );
        assert_eq!(
            vars(&["{{#with order}}{{id}}{{/with}}"]),
            named(&[("order.id", "String")])
        );
    }

    #[test]
    fn this_locals_and_unparseable_texts_contribute_nothing() {
        assert_eq!(
            vars(&[
                "{{#each tags}}{{this}} {{@index}}{{/each}}",
                "{{#if}}",
                "{{oops"
            ]),
            named(&[("tags", "Array")])
        );
    }

    #[test]
    fn reserved_variables_notice_tenant_and_actor() {
        assert_eq!(
            reserved_variables(["{{tenant.identifier}}"]),
            ReservedVariables {
                tenant: true,
                actor: false
            }
        );
        assert_eq!(
            reserved_variables(["x", "{{#if actor.firstName}}!{{/if}}"]),
            ReservedVariables {
                tenant: false,
                actor: true
            }
        );
        assert_eq!(
            reserved_variables(["{{payload.x}}"]),
            ReservedVariables::default()
        );
    }
}
