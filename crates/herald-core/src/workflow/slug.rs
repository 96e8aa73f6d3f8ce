//! The slugs Novu derives from names, reproduced exactly because clients see them:
//!
//! - [`v1_identifier`]: a v1 workflow's trigger identifier (`POST /v1/events/trigger {name}`) is
//!   the npm package `slugify` 1.6.6 applied to the workflow name with `{lower: true, strict: true}`
//!   (Novu's `slugifyName`). Its character map is embedded from that package
//!   (`slugify_charmap.json`, MIT licence, see below).
//! - [`step_id`]: the default `stepId` of a v2 step is `@novu/shared`'s own slugify port (2.6.6:
//!   transliterate, decamelize, lowercase, runs of other characters become `-`), a different
//!   algorithm. Its replacement table is embedded from that package
//!   (`novu_slugify_replacements.json`: the package's `builtinReplacements` followed by the three
//!   replacements its `slugify` adds, in order). `@novu/shared` is Novu's
//!   (https://github.com/novuhq/novu), published under the ISC licence its `package.json`
//!   declares; its slugify is, as its source says, adapted from `sindresorhus/slugify` (MIT).
//! - [`short_id`]: the `-<suffix>` Novu appends (`shortid.generate()`) when a slug is taken.
//! - [`workflow_slug`] / [`workflow_id_from_slug`]: the v2 `slug` of a workflow, `wf_` + the
//!   base62 of its `_id` (Novu's `notification-template-mapper`), and back.
//!
//! `slugify_charmap.json` is from `slugify` 1.6.6 (https://github.com/simov/slugify):
//!
//! > The MIT License (MIT)
//! >
//! > Copyright (c) Simeon Velichkov <simeonvelichkov@gmail.com>
//! >
//! > Permission is hereby granted, free of charge, to any person obtaining a copy of this software
//! > and associated documentation files (the "Software"), to deal in the Software without
//! > restriction, including without limitation the rights to use, copy, modify, merge, publish,
//! > distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
//! > Software is furnished to do so, subject to the following conditions:
//! >
//! > The above copyright notice and this permission notice shall be included in all copies or
//! > substantial portions of the Software.
//! >
//! > THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
//! > BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
//! > NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
//! > DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
//! > OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

use std::collections::HashMap;
use std::sync::OnceLock;

use rand::Rng;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use crate::ObjectId;

/// JavaScript's `\s` (and what `String#trim` removes): Unicode white space and line terminators.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

fn charmap() -> &'static HashMap<char, String> {
    static MAP: OnceLock<HashMap<char, String>> = OnceLock::new();
    MAP.get_or_init(|| {
        let raw: HashMap<String, String> =
            serde_json::from_str(include_str!("slugify_charmap.json"))
                .expect("the embedded charmap is valid JSON");
        raw.into_iter()
            .filter_map(|(k, v)| {
                let mut chars = k.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some((c, v)),
                    _ => None,
                }
            })
            .collect()
    })
}

/// `slugify(name, {lower: true, strict: true})` of npm `slugify` 1.6.6: NFC; each character
/// replaced through the charmap (a replacement of exactly `-` becomes a space); with `strict`
/// everything but ASCII letters, digits and white space removed (which subsumes the package's
/// own removal of other punctuation); trimmed; white-space runs joined by `-`; lowercased.
/// Characters outside the charmap (CJK, emoji) vanish, so the result may be empty.
pub fn v1_identifier(name: &str) -> String {
    let map = charmap();
    let mut kept = String::with_capacity(name.len());
    for ch in name.nfc() {
        let replaced = map.get(&ch).map(String::as_str);
        match replaced {
            Some("-") => kept.push(' '),
            Some(s) => kept.extend(s.chars().filter(|c| keeps_strict(*c))),
            None if ch == '-' => kept.push(' '),
            None if keeps_strict(ch) => kept.push(ch),
            None => {}
        }
    }
    kept.split(is_js_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
        .to_ascii_lowercase()
}

fn keeps_strict(c: char) -> bool {
    c.is_ascii_alphanumeric() || is_js_space(c)
}

fn replacements() -> &'static Vec<(String, String)> {
    static LIST: OnceLock<Vec<(String, String)>> = OnceLock::new();
    LIST.get_or_init(|| {
        serde_json::from_str(include_str!("novu_slugify_replacements.json"))
            .expect("the embedded replacement table is valid JSON")
    })
}

/// One compiled regex per rule of `@novu/shared`'s slugify, compiled once.
struct StepIdRules {
    diacritic: Regex,
    decamelize: [(Regex, &'static str); 4],
    non_slug: Regex,
    contraction: Regex,
    repeated_dash: Regex,
    edge_dash: Regex,
}

fn step_id_rules() -> &'static StepIdRules {
    static RULES: OnceLock<StepIdRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("a valid slug regex");
        StepIdRules {
            diacritic: re(r"\p{Diacritic}"),
            // JavaScript's `\d` is ASCII only.
            decamelize: [
                (re(r"([A-Z]{2,})([0-9]+)"), "$1 $2"),
                (re(r"([a-z0-9]+)([A-Z]{2,})"), "$1 $2"),
                (re(r"([a-z0-9])([A-Z])"), "$1 $2"),
                (re(r"([A-Z]+)([A-Z][a-rt-z0-9]+)"), "$1 $2"),
            ],
            non_slug: re(r"[^a-z0-9]+"),
            contraction: re(r"([a-zA-Z0-9]+)-([ts])(-|$)"),
            repeated_dash: re(r"-{2,}"),
            edge_dash: re(r"^-|-$"),
        }
    })
}

/// `slugify(name)` of `@novu/shared` 2.6.6 (the default `stepId` of a v2 step): the table's
/// replacements in order (German umlauts `ä→ae`, `&→ and `, `♥→ love `, …), diacritics removed,
/// decamelized, lowercased, each run of characters other than `a-z0-9` turned into `-`,
/// contractions (`it-s`) joined, repeated and edge dashes removed. May be empty.
pub fn step_id(name: &str) -> String {
    let rules = step_id_rules();
    let mut s: String = name.nfc().collect();
    for (from, to) in replacements() {
        if s.contains(from.as_str()) {
            s = s.replace(from.as_str(), to);
        }
    }
    let stripped: String = s.nfd().collect();
    let stripped = rules.diacritic.replace_all(&stripped, "");
    let mut s: String = stripped.nfc().collect();
    for (re, with) in &rules.decamelize {
        s = re.replace_all(&s, *with).into_owned();
    }
    let s = s.to_lowercase();
    let s = rules.non_slug.replace_all(&s, "-");
    let s = s.replace('\\', "");
    let s = rules.contraction.replace_all(&s, "$1$2$3");
    let s = rules.repeated_dash.replace_all(&s, "-");
    rules.edge_dash.replace_all(&s, "").into_owned()
}

const SHORT_ID_ALPHABET: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";

/// A fresh suffix in the shape of `shortid.generate()` (9 characters of `[0-9A-Za-z_-]`), for a
/// slug that is already taken.
pub fn short_id() -> String {
    let mut rng = rand::thread_rng();
    (0..9)
        .map(|_| SHORT_ID_ALPHABET[rng.gen_range(0..SHORT_ID_ALPHABET.len())] as char)
        .collect()
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62(mut n: u128) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn unbase62(s: &str) -> Option<u128> {
    if s.is_empty() || s.len() > 22 {
        return None;
    }
    let mut n: u128 = 0;
    for b in s.bytes() {
        let digit = BASE62.iter().position(|&c| c == b)? as u128;
        n = n.checked_mul(62)?.checked_add(digit)?;
    }
    Some(n)
}

fn slug_of(prefix: &str, id: &ObjectId) -> String {
    let n = u128::from_str_radix(id.as_str(), 16).unwrap_or_default();
    format!("{prefix}{}", base62(n))
}

fn id_of(prefix: &str, slug: &str) -> Option<ObjectId> {
    let n = unbase62(slug.strip_prefix(prefix)?)?;
    if n >> 96 != 0 {
        return None;
    }
    ObjectId::parse(&format!("{n:024x}"))
}

/// The v2 `slug` of a workflow: `wf_` + base62 of its `_id`.
pub fn workflow_slug(id: &ObjectId) -> String {
    slug_of("wf_", id)
}

/// The `_id` a workflow slug stands for (`None` if `slug` is not one).
pub fn workflow_id_from_slug(slug: &str) -> Option<ObjectId> {
    id_of("wf_", slug)
}

/// The v2 `slug` of a step: `stp_` + base62 of its `_id`.
pub fn step_slug(id: &ObjectId) -> String {
    slug_of("stp_", id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of the spec (§1.3) and more, each produced by running `slugify` 1.6.6 from
    /// npm with `{lower: true, strict: true}`.
    #[test]
    fn v1_identifiers_match_slugify_1_6_6() {
        for (name, slug) in [
            ("Order shipped!", "order-shipped"),
            ("New comment - post", "new-comment-post"),
            ("A & B", "a-and-b"),
            ("A&B", "aandb"),
            ("Café Déjà", "cafe-deja"),
            ("Über Größe", "uber-grosse"),
            ("order_shipped", "ordershipped"),
            ("OrderShipped", "ordershipped"),
            ("v1.2 release", "v12-release"),
            ("x – y", "x-y"),
            ("通知", ""),
            ("  a\u{a0}b  ", "a-b"),
            ("€5 off", "euro5-off"),
            ("I ♥ u", "i-love-u"),
            ("a—b", "ab"),
            ("x.y-z_w", "xy-zw"),
        ] {
            assert_eq!(v1_identifier(name), slug, "{name:?}");
        }
    }

    #[test]
    fn the_embedded_charmap_is_the_packages_641_single_characters() {
        assert_eq!(charmap().len(), 641);
        assert_eq!(charmap()[&'ß'], "ss");
        assert_eq!(charmap()[&'–'], "-");
    }

    /// The vectors of the spec (§2.2) and more, each produced by `@novu/shared` 2.6.6's slugify.
    #[test]
    fn step_ids_match_novu_shared_slugify() {
        for (name, slug) in [
            ("OrderShipped", "order-shipped"),
            ("sendSMSNow", "send-sms-now"),
            ("order_shipped", "order-shipped"),
            ("v1.2 release", "v1-2-release"),
            ("Über Größe", "ueber-groesse"),
            ("Push Step 2", "push-step-2"),
            ("ABC123def", "abc-123def"),
            ("通知", ""),
            ("It's done", "its-done"),
            ("APIs rock", "apis-rock"),
            ("A & B", "a-and-b"),
            ("café", "cafe"),
            ("Chat step", "chat-step"),
            ("  --x--  ", "x"),
            ("I ♥ u", "i-love-u"),
            ("don't stop", "dont-stop"),
        ] {
            assert_eq!(step_id(name), slug, "{name:?}");
        }
    }

    #[test]
    fn short_ids_are_nine_characters_of_the_shortid_alphabet() {
        let a = short_id();
        assert_eq!(a.len(), 9);
        assert!(a.bytes().all(|b| SHORT_ID_ALPHABET.contains(&b)));
        assert_ne!(a, short_id());
    }

    #[test]
    fn a_workflow_slug_names_its_id_and_nothing_else() {
        for id in [
            ObjectId::new(),
            ObjectId::parse("000000000000000000000000").unwrap(),
            ObjectId::parse("ffffffffffffffffffffffff").unwrap(),
        ] {
            let slug = workflow_slug(&id);
            assert!(slug.starts_with("wf_"), "{slug}");
            assert_eq!(workflow_id_from_slug(&slug), Some(id));
        }
        assert_eq!(workflow_id_from_slug("order-shipped"), None);
        assert_eq!(workflow_id_from_slug("wf_"), None);
        assert_eq!(workflow_id_from_slug("wf_!!"), None);
        // 62^17 > 2^96: a slug for a number past 96 bits names no id.
        assert_eq!(workflow_id_from_slug("wf_zzzzzzzzzzzzzzzzz"), None);
        assert!(step_slug(&ObjectId::new()).starts_with("stp_"));
    }
}
