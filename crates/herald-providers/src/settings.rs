//! Reading an integration's decrypted credentials. Novu stores them as loosely typed JSON (the
//! API enforces no field), so every provider reads them the same way here: a string is trimmed
//! and an empty one counts as missing; a switch is `true` or `"true"`. What a provider cannot
//! work without makes the attempt `CredentialInvalid` with Novu's wording.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{Map, Value};

#[derive(Clone, Copy)]
pub(crate) struct Settings<'a>(pub &'a Map<String, Value>);

impl<'a> Settings<'a> {
    /// A non-empty string setting, trimmed.
    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// A switch (`secure`): `true` or the string `"true"`; anything else is off.
    pub fn flag(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
            _ => false,
        }
    }
}

/// Novu's message for an integration missing what its handler needs: `Config is not valid for
/// <name>` (the name as Novu's handler writes it: `fcm`, `apns`, `OneSignal`, `Pusher Beams`, …).
pub(crate) fn invalid_config(name: &str) -> Attempt {
    Attempt::new(
        Outcome::CredentialInvalid,
        format!("Config is not valid for {name}"),
    )
}

/// The same, with Herald's reason after Novu's words (a service account that is not JSON, a
/// key that is not a key).
pub(crate) fn invalid_config_because(name: &str, why: &str) -> Attempt {
    Attempt::new(
        Outcome::CredentialInvalid,
        format!("Config is not valid for {name}: {why}"),
    )
}

/// A string override (`overrides.sound`), if it is one.
pub(crate) fn override_str<'a>(overrides: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    overrides.get(key).and_then(Value::as_str)
}

/// `map` with `key` set to `value` when there is one (Novu's `undefined` keys vanish from JSON).
pub(crate) fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value.filter(|v| !v.is_null()) {
        map.insert(key.to_owned(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_trimmed_and_empty_ones_are_missing() {
        let m = json!({"a": " x ", "b": "  ", "c": 7, "s1": true, "s2": "TRUE", "s3": "yes"});
        let s = Settings(m.as_object().unwrap());
        assert_eq!(s.str("a"), Some("x"));
        assert_eq!(s.str("b"), None);
        assert_eq!(s.str("c"), None);
        assert_eq!(s.str("zz"), None);
        assert!(s.flag("s1") && s.flag("s2"));
        assert!(!s.flag("s3") && !s.flag("a") && !s.flag("zz"));
    }
}
