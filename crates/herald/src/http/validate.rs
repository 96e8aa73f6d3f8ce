//! Parsing a JSON object into typed values while collecting class-validator's messages, so that a
//! bad body gets every message Novu would give, in Novu's order: properties in the DTO's order;
//! within one, "should not be null or undefined" first, then the other checks.

use herald_core::subscriber::Field;
use herald_core::values::{is_email, is_locale};
use serde_json::{Map, Value};

use super::error::ApiError;

/// Longest accepted id (subscriber ids, integration identifiers, topic keys): ids are indexed, and
/// PostgreSQL cannot index arbitrarily long values.
pub const MAX_ID_LEN: usize = 256;

/// Longest accepted search needle (the filters of `GET /v2/subscribers`, `name` of
/// `GET /v2/topics`), in characters. A search compares its needle with every row of the
/// environment, so the needle's size is what one request can make every row cost; the stored
/// values searched (ids, names, emails, phones) are no longer in practice.
pub const MAX_SEARCH_LEN: usize = 256;

/// The search needles `names` of a query string (`None` when absent). A needle longer than
/// [`MAX_SEARCH_LEN`] characters is a 400 naming every such parameter.
pub fn search_needles<const N: usize>(
    get: impl Fn(&str) -> Option<String>,
    names: [&str; N],
) -> Result<[Option<String>; N], ApiError> {
    let needles = names.map(&get);
    let errors: Vec<String> = names
        .iter()
        .zip(&needles)
        .filter(|(_, v)| {
            v.as_ref()
                .is_some_and(|v| v.chars().count() > MAX_SEARCH_LEN)
        })
        .map(|(name, _)| {
            format!("{name} must be shorter than or equal to {MAX_SEARCH_LEN} characters")
        })
        .collect();
    if errors.is_empty() {
        Ok(needles)
    } else {
        Err(ApiError::Validation(errors))
    }
}

pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    errors: Vec<String>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Fields {
            obj,
            prefix: String::new(),
            errors: Vec::new(),
        }
    }

    /// For nested objects: messages read `subscribers.0.email must be an email`.
    pub fn nested(obj: &'a Map<String, Value>, prefix: String) -> Self {
        Fields {
            obj,
            prefix,
            errors: Vec::new(),
        }
    }

    pub fn name(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key)
    }

    fn present(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// Strings Herald stores may not contain NUL (PostgreSQL text cannot hold it, and no client
    /// means it). Returns whether `s` is acceptable; records the message otherwise.
    fn storable(&mut self, key: &str, s: &str) -> bool {
        if s.contains('\0') {
            let n = self.name(key);
            self.error(format!("{n} must not contain null characters"));
            return false;
        }
        true
    }

    /// An id: a string, trimmed, non-empty, at most [`MAX_ID_LEN`] characters, without control
    /// characters (which no path could address afterwards).
    fn check_id(&mut self, key: &str, raw: String) -> Option<String> {
        let id = raw.trim().to_string();
        let n = self.name(key);
        if id.is_empty() {
            self.error(format!("{n} should not be empty"));
            return None;
        }
        if id.chars().count() > MAX_ID_LEN {
            self.error(format!(
                "{n} must be shorter than or equal to {MAX_ID_LEN} characters"
            ));
            return None;
        }
        if id.chars().any(char::is_control) {
            self.error(format!("{n} must not contain control characters"));
            return None;
        }
        Some(id)
    }

    /// A required id (see [`Fields::check_id`]).
    pub fn required_id(&mut self, key: &str) -> Option<String> {
        let raw = self.required_string(key)?;
        self.check_id(key, raw)
    }

    /// An optional id; `null` reads as absent.
    pub fn optional_id(&mut self, key: &str) -> Option<String> {
        let raw = self.optional_string(key).value().cloned()?;
        self.check_id(key, raw)
    }

    /// `@IsDefined() @IsString()`.
    pub fn required_string(&mut self, key: &str) -> Option<String> {
        match self.present(key) {
            None => {
                let n = self.name(key);
                self.error(format!("{n} should not be null or undefined"));
                self.error(format!("{n} must be a string"));
                None
            }
            Some(Value::String(s)) => self.storable(key, s).then(|| s.clone()),
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be a string"));
                None
            }
        }
    }

    /// `@IsOptional() @IsString()`: absent, `null`, or a string.
    pub fn optional_string(&mut self, key: &str) -> Field<String> {
        match self.obj.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::String(s)) if self.storable(key, s) => Field::Value(s.clone()),
            Some(Value::String(_)) => Field::Absent,
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be a string"));
                Field::Absent
            }
        }
    }

    /// `@IsOptional() @IsEmail()`.
    pub fn optional_email(&mut self, key: &str) -> Field<String> {
        match self.obj.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::String(s)) if is_email(s) => Field::Value(s.clone()),
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be an email"));
                Field::Absent
            }
        }
    }

    /// `@IsOptional() @IsLocale()`.
    pub fn optional_locale(&mut self, key: &str) -> Field<String> {
        match self.obj.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::String(s)) if is_locale(s) => Field::Value(s.clone()),
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be locale"));
                Field::Absent
            }
        }
    }

    /// Any JSON value (`data`).
    pub fn optional_any(&mut self, key: &str) -> Field<Value> {
        match self.obj.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => Field::Value(v.clone()),
        }
    }

    /// `@IsOptional() @IsBoolean()`.
    pub fn optional_bool(&mut self, key: &str) -> Option<bool> {
        match self.present(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be a boolean value"));
                None
            }
        }
    }

    /// `@IsDefined() @IsBoolean()`.
    pub fn required_bool(&mut self, key: &str) -> Option<bool> {
        match self.present(key) {
            None => {
                let n = self.name(key);
                self.error(format!("{n} should not be null or undefined"));
                self.error(format!("{n} must be a boolean value"));
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be a boolean value"));
                None
            }
        }
    }

    /// `@IsOptional() @IsArray()`.
    pub fn optional_array(&mut self, key: &str) -> Option<&'a Vec<Value>> {
        match self.present(key) {
            None => None,
            Some(Value::Array(a)) => Some(a),
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be an array"));
                None
            }
        }
    }

    /// `@IsDefined() @IsObject()` (an array is not an object).
    pub fn required_object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.present(key) {
            None => {
                let n = self.name(key);
                self.error(format!("{n} should not be null or undefined"));
                self.error(format!("{n} must be an object"));
                None
            }
            Some(Value::Object(o)) => Some(o),
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be an object"));
                None
            }
        }
    }

    /// `@IsOptional() @IsObject()`.
    pub fn optional_object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.present(key) {
            None => None,
            Some(Value::Object(o)) => Some(o),
            Some(_) => {
                let n = self.name(key);
                self.error(format!("{n} must be an object"));
                None
            }
        }
    }

    /// Moves the messages collected by a nested validator into this one.
    pub fn absorb(&mut self, nested: Fields<'_>) {
        self.errors.extend(nested.errors);
    }

    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// `Ok(value)` if no message was collected, else the 400 with all messages.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ApiError> {
        if self.errors.is_empty() {
            Ok(value())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_needles_are_at_most_256_characters_not_bytes() {
        let query = |k: &str| match k {
            "a" => Some("é".repeat(MAX_SEARCH_LEN)),
            "b" => Some("x".repeat(MAX_SEARCH_LEN + 1)),
            _ => None,
        };
        let [a, c] = search_needles(query, ["a", "c"]).unwrap();
        assert_eq!(a.map(|a| a.chars().count()), Some(256));
        assert_eq!(c, None);
        match search_needles(query, ["a", "b"]) {
            Err(ApiError::Validation(m)) => {
                assert_eq!(m, ["b must be shorter than or equal to 256 characters"])
            }
            other => panic!("{other:?}"),
        }
    }
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn required_string_messages() {
        let o = obj(json!({"b": 5}));
        let mut f = Fields::new(&o);
        f.required_string("a");
        f.required_string("b");
        assert_eq!(
            f.errors,
            [
                "a should not be null or undefined",
                "a must be a string",
                "b must be a string"
            ]
        );
    }

    #[test]
    fn optional_fields_keep_null_apart_from_absent() {
        let o = obj(json!({"n": null, "s": "x"}));
        let mut f = Fields::new(&o);
        assert_eq!(f.optional_string("n"), Field::Null);
        assert_eq!(f.optional_string("s"), Field::Value("x".into()));
        assert_eq!(f.optional_string("missing"), Field::Absent);
        assert!(!f.has_errors());
    }

    #[test]
    fn ids_are_trimmed_bounded_and_free_of_control_characters() {
        let long = "x".repeat(MAX_ID_LEN + 1);
        let o = obj(json!({"a": " s1 ", "b": "   ", "c": long, "d": "s\n1", "e": "a\u{0}b"}));
        let mut f = Fields::new(&o);
        assert_eq!(f.required_id("a").as_deref(), Some("s1"));
        assert_eq!(f.required_id("b"), None);
        assert_eq!(f.required_id("c"), None);
        assert_eq!(f.required_id("d"), None);
        assert_eq!(f.optional_string("e"), Field::Absent);
        assert_eq!(
            f.errors,
            [
                "b should not be empty",
                "c must be shorter than or equal to 256 characters",
                "d must not contain control characters",
                "e must not contain null characters"
            ]
        );
    }

    #[test]
    fn nested_prefix_and_object_checks() {
        let o = obj(json!({"email": "bad", "credentials": []}));
        let mut f = Fields::nested(&o, "subscribers.0.".into());
        f.optional_email("email");
        f.required_object("credentials");
        assert_eq!(
            f.errors,
            [
                "subscribers.0.email must be an email",
                "subscribers.0.credentials must be an object"
            ]
        );
    }
}
