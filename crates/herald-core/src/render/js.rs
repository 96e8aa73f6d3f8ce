//! JavaScript value semantics over JSON values: what Handlebars.js and Novu's helpers do with a
//! value (turn it into text, compare it, test it) is defined by JavaScript, not by JSON, and a
//! template must print the same text in Herald as in Novu. `None` stands for `undefined` (a
//! missing variable); JSON has every other JavaScript type a template can see.

use serde_json::{Map, Value};

/// `String(value)` as a template prints it: `undefined`/`null` → empty, numbers as JavaScript
/// prints them, arrays joined with `,`, objects `[object Object]`.
pub fn to_text(v: Option<&Value>) -> String {
    let mut out = String::new();
    push_text(&mut out, v);
    out
}

fn push_text(out: &mut String, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::Number(n)) => out.push_str(&number_to_string(as_f64(n))),
        Some(Value::String(s)) => out.push_str(s),
        // Array.prototype.join: null and undefined elements print as nothing.
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_text(out, Some(item));
            }
        }
        Some(Value::Object(_)) => out.push_str("[object Object]"),
    }
}

/// `String(value)` proper: `null` → `"null"`, `undefined` → `"undefined"` (property keys,
/// sort keys, option values).
pub fn to_js_string(v: Option<&Value>) -> String {
    match v {
        None => "undefined".into(),
        Some(Value::Null) => "null".into(),
        other => to_text(other),
    }
}

/// A JSON number as the double JavaScript holds (large integers round as `JSON.parse` rounds them).
pub fn as_f64(n: &serde_json::Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// `Number.prototype.toString()`: the shortest digits that round-trip, in JavaScript's layout
/// (`2` not `2.0`, `1e+21`, `1e-7`, `0.000001`).
pub fn number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // `{:e}` prints the shortest round-trip digits, e.g. `1.2345e-7`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp.parse::<i32>().unwrap_or(0) + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e_sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{e_sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{e_sign}{}", e.abs())
        }
    };
    format!("{sign}{body}")
}

/// JavaScript truthiness (`{}` and `[]` are truthy; `0`, `""`, `null`, `undefined` are not).
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => {
            let f = as_f64(n);
            f != 0.0 && !f.is_nan()
        }
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_)) | Some(Value::Object(_)) => true,
    }
}

/// Handlebars.js `Utils.isEmpty`: falsy except `0`, or an empty array (`#if`, `#with`).
pub fn is_empty(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Number(n)) if as_f64(n) == 0.0 => false,
        Some(Value::Array(items)) => items.is_empty(),
        other => !truthy(other),
    }
}

/// JavaScript's WhiteSpace and LineTerminator characters (what `Number()` trims).
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

/// Length of the longest prefix of `s` that is a `StrDecimalLiteral` (`+1.5e3`, `.5`, `Infinity`).
fn decimal_prefix(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    if s[i..].starts_with("Infinity") {
        return i + "Infinity".len();
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        let mut j = frac_start;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if mantissa_digits > 0 || j > frac_start {
            mantissa_digits += j - frac_start;
            i = j;
        }
    }
    if mantissa_digits == 0 {
        return 0;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    i
}

fn parse_decimal(s: &str) -> f64 {
    let unsigned = s.trim_start_matches(['+', '-']);
    let magnitude = if unsigned == "Infinity" {
        f64::INFINITY
    } else {
        unsigned.parse::<f64>().unwrap_or(f64::NAN)
    };
    if s.starts_with('-') {
        -magnitude
    } else {
        magnitude
    }
}

/// `Number(string)`: the whole trimmed string must be a numeric literal (`""` is 0; hex, octal
/// and binary integer literals allowed; anything else is NaN).
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(digits) = t.strip_prefix(prefix) {
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN;
            }
            return digits.chars().fold(0.0, |acc, c| {
                acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
            });
        }
    }
    if decimal_prefix(t) == t.len() {
        parse_decimal(t)
    } else {
        f64::NAN
    }
}

/// `parseFloat(value)`: the longest decimal prefix of `String(value)` after leading spaces.
pub fn parse_float(v: Option<&Value>) -> f64 {
    let text = to_text(v);
    let t = text.trim_start_matches(is_js_space);
    let len = decimal_prefix(t);
    if len == 0 {
        f64::NAN
    } else {
        parse_decimal(&t[..len])
    }
}

/// `Number(value)` for values that are not objects.
fn to_number(v: Option<&Value>) -> f64 {
    match v {
        None => f64::NAN,
        Some(Value::Null) => 0.0,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => as_f64(n),
        Some(Value::String(s)) => string_to_number(s),
        Some(other) => string_to_number(&to_text(Some(other))),
    }
}

/// `ToPrimitive`: arrays and objects become their text; everything else stays.
fn to_primitive(v: Option<&Value>) -> Option<Value> {
    match v {
        Some(Value::Array(_)) | Some(Value::Object(_)) => Some(Value::String(to_text(v))),
        other => other.cloned(),
    }
}

/// `a === b`. Two objects or arrays are never identical: each JSON value a template sees is its
/// own object in Novu, so only a reference to the very same object would compare equal.
pub fn strict_equals(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Value::Null), Some(Value::Null)) => true,
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
        (Some(Value::Number(x)), Some(Value::Number(y))) => as_f64(x) == as_f64(y),
        (Some(Value::String(x)), Some(Value::String(y))) => x == y,
        _ => false,
    }
}

/// `a == b` (the Abstract Equality Comparison).
pub fn loose_equals(a: Option<&Value>, b: Option<&Value>) -> bool {
    let nullish = |v: Option<&Value>| matches!(v, None | Some(Value::Null));
    let is_object = |v: Option<&Value>| matches!(v, Some(Value::Array(_) | Value::Object(_)));
    if nullish(a) || nullish(b) {
        return nullish(a) && nullish(b);
    }
    if is_object(a) && is_object(b) {
        return false;
    }
    if is_object(a) {
        return loose_equals(to_primitive(a).as_ref(), b);
    }
    if is_object(b) {
        return loose_equals(a, to_primitive(b).as_ref());
    }
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => x == y,
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
        // Number vs string, and booleans against anything, compare as numbers.
        _ => to_number(a) == to_number(b),
    }
}

/// `a < b` (the Abstract Relational Comparison); `None` when a side is NaN (`undefined`).
fn less_than(a: Option<&Value>, b: Option<&Value>) -> Option<bool> {
    let pa = to_primitive(a);
    let pb = to_primitive(b);
    if let (Some(Value::String(x)), Some(Value::String(y))) = (&pa, &pb) {
        return Some(x.encode_utf16().lt(y.encode_utf16()));
    }
    let x = to_number(pa.as_ref());
    let y = to_number(pb.as_ref());
    if x.is_nan() || y.is_nan() {
        None
    } else {
        Some(x < y)
    }
}

/// `a > b`.
pub fn gt(a: Option<&Value>, b: Option<&Value>) -> bool {
    less_than(b, a) == Some(true)
}

/// `a >= b`.
pub fn gte(a: Option<&Value>, b: Option<&Value>) -> bool {
    less_than(a, b) == Some(false)
}

/// `a < b`.
pub fn lt(a: Option<&Value>, b: Option<&Value>) -> bool {
    less_than(a, b) == Some(true)
}

/// `a <= b`.
pub fn lte(a: Option<&Value>, b: Option<&Value>) -> bool {
    less_than(b, a) == Some(false)
}

/// Whether `key` is an array index as JavaScript spells one (`"0"`, `"12"`; not `"01"`).
pub fn array_index(key: &str) -> Option<usize> {
    let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
    if !canonical || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>()
        .ok()
        .filter(|i| *i < u32::MAX)
        .map(|i| i as usize)
}

/// `value[key]` for an own property (what Handlebars.js' `lookupProperty` reads): object keys,
/// array elements and `length`, string `length`.
pub fn get_property(v: Option<&Value>, key: &str) -> Option<Value> {
    match v? {
        Value::Object(map) => map.get(key).cloned(),
        Value::Array(items) if key == "length" => Some(Value::from(items.len())),
        Value::Array(items) => array_index(key).and_then(|i| items.get(i)).cloned(),
        Value::String(s) if key == "length" => Some(Value::from(s.encode_utf16().count())),
        Value::String(s) => {
            let unit = s.encode_utf16().nth(array_index(key)?)?;
            Some(Value::String(String::from_utf16_lossy(&[unit])))
        }
        _ => None,
    }
}

/// An object's keys in JavaScript's own-property order: array-index keys ascending, then the
/// others in insertion order (`JSON.stringify`, `Object.entries`).
pub fn ordered_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut indexed: Vec<(usize, (&String, &Value))> = Vec::new();
    let mut named = Vec::with_capacity(map.len());
    for (k, v) in map {
        match array_index(k) {
            Some(i) => indexed.push((i, (k, v))),
            None => named.push((k, v)),
        }
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, kv)| kv).chain(named).collect()
}

/// `JSON.stringify(value)`; `None` for `undefined`.
pub fn stringify(v: Option<&Value>) -> Option<String> {
    let mut out = String::new();
    push_json(&mut out, v?);
    Some(out)
}

fn push_json(out: &mut String, v: &Value) {
    match v {
        Value::Number(n) => {
            let f = as_f64(n);
            out.push_str(&if f.is_finite() {
                number_to_string(f)
            } else {
                "null".into()
            });
        }
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in ordered_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                push_json(out, item);
            }
            out.push('}');
        }
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// `ToInt32(ToNumber(value))`, as `~~value` computes it.
pub fn to_int32(v: Option<&Value>) -> i32 {
    let f = to_number(v);
    if !f.is_finite() {
        return 0;
    }
    let wrapped = f.trunc().rem_euclid(4_294_967_296.0);
    if wrapped >= 2_147_483_648.0 {
        (wrapped - 4_294_967_296.0) as i32
    } else {
        wrapped as i32
    }
}

/// `Number.prototype.toFixed(digits)` for `digits` in `0..=100`: exact decimal rounding with
/// ties away from zero (Rust's own formatting breaks exact ties to even).
pub fn to_fixed(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.abs() >= 1e21 {
        return number_to_string(x);
    }
    if x < 0.0 {
        let positive = to_fixed(-x, digits);
        return format!("-{positive}");
    }
    // -0 is not below zero: it prints as "0".
    let x = x.abs();
    // x = m·2^-k with m odd has exactly k decimals, the last a 5: it is a tie at `digits`
    // decimals exactly when k == digits + 1.
    if fraction_decimals(x) == Some(digits + 1) {
        let exact = format!("{x:.*}", digits + 1);
        return round_up_decimal(&exact[..exact.len() - 1]);
    }
    format!("{x:.digits$}")
}

/// How many decimals the exact value of a positive finite double has (`None` for integers).
fn fraction_decimals(x: f64) -> Option<usize> {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let mut mantissa = bits & ((1 << 52) - 1);
    let mut exp = if biased == 0 {
        -1074
    } else {
        mantissa |= 1 << 52;
        biased - 1075
    };
    if mantissa == 0 {
        return None;
    }
    exp += i64::from(mantissa.trailing_zeros());
    (exp < 0).then_some((-exp) as usize)
}

/// Adds one unit in the last place of a plain decimal string (`"2."` → `"3"`, `"9.99"` → `"10.00"`).
fn round_up_decimal(s: &str) -> String {
    let trimmed = s.strip_suffix('.').unwrap_or(s);
    let mut bytes = trimmed.as_bytes().to_vec();
    let mut i = bytes.len();
    loop {
        if i == 0 {
            bytes.insert(0, b'1');
            break;
        }
        i -= 1;
        match bytes[i] {
            b'.' => continue,
            b'9' => bytes[i] = b'0',
            d => {
                bytes[i] = d + 1;
                break;
            }
        }
    }
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
#[path = "js_tests.rs"]
mod tests;
