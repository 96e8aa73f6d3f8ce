//! Value checks ported from validator.js 13.12 (what Novu's class-validator uses), so that Herald
//! accepts and rejects exactly the emails and locales Novu does.

use std::sync::OnceLock;

use regex::Regex;

/// validator.js `isEmail` with its defaults: a UTF-8 local part is allowed, a TLD of at least two
/// characters is required, IP-literal domains and display names are not.
pub fn is_email(s: &str) -> bool {
    if s.len() > 254 {
        return false;
    }
    let Some(at) = s.rfind('@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || domain.is_empty() || local.len() > 64 || domain.len() > 253 {
        return false;
    }
    is_email_local(local) && is_fqdn(domain)
}

fn is_email_local(local: &str) -> bool {
    if local.starts_with('"') && local.ends_with('"') && local.len() >= 2 {
        // Quoted local part: printable ASCII except unescaped quote and backslash.
        return local[1..local.len() - 1]
            .chars()
            .all(|c| (c == ' ' || c.is_ascii_graphic() || !c.is_ascii()) && c != '"' && c != '\\');
    }
    local.split('.').all(|part| {
        !part.is_empty()
            && part.chars().all(|c| {
                c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
            })
    })
}

/// validator.js `isFQDN` defaults: a TLD is required, at least two characters, letters or
/// non-ASCII only; labels up to 63 characters of letters, digits, hyphens and non-ASCII, not
/// starting or ending with a hyphen.
fn is_fqdn(domain: &str) -> bool {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let tld = labels[labels.len() - 1];
    if tld.chars().count() < 2
        || !tld.chars().all(|c| c.is_alphabetic() || !c.is_ascii())
        || tld.chars().any(|c| c.is_whitespace())
    {
        return false;
    }
    labels.iter().all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| {
                c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && !c.is_whitespace())
            })
    })
}

/// validator.js `isLocale`: a BCP-47 language tag, with `_` accepted as a delimiter.
pub fn is_locale(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        let extlang = "([A-Za-z]{3}(-[A-Za-z]{3}){0,2})";
        let language = format!("(([a-zA-Z]{{2,3}}(-{extlang})?)|([a-zA-Z]{{5,8}}))");
        let script = "([A-Za-z]{4})";
        let region = "([A-Za-z]{2}|\\d{3})";
        let variant = "([A-Za-z0-9]{5,8}|(\\d[A-Z-a-z0-9]{3}))";
        let singleton = "(\\d|[A-W]|[Y-Z]|[a-w]|[y-z])";
        let extension = format!("({singleton}(-[A-Za-z0-9]{{2,8}})+)");
        let privateuse = "(x(-[A-Za-z0-9]{1,8})+)";
        let irregular = "((en-GB-oed)|(i-ami)|(i-bnn)|(i-default)|(i-enochian)|(i-hak)|(i-klingon)|(i-lux)|(i-mingo)|(i-navajo)|(i-pwn)|(i-tao)|(i-tay)|(i-tsu)|(sgn-BE-FR)|(sgn-BE-NL)|(sgn-CH-DE))";
        let regular = "((art-lojban)|(cel-gaulish)|(no-bok)|(no-nyn)|(zh-guoyu)|(zh-hakka)|(zh-min)|(zh-min-nan)|(zh-xiang))";
        let grandfathered = format!("({irregular}|{regular})");
        let delimiter = "(-|_)";
        let langtag = format!(
            "{language}({delimiter}{script})?({delimiter}{region})?({delimiter}{variant})*({delimiter}{extension})*({delimiter}{privateuse})?"
        );
        Regex::new(&format!("(^{privateuse}$)|(^{grandfathered}$)|(^{langtag}$)"))
            .expect("locale regex compiles")
    });
    re.is_match(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_accepted_and_rejected_like_validator_js() {
        for ok in [
            "john@doe.com",
            "a.b+c@example.co.uk",
            "üser@example.com",
            "x@bücher.de",
        ] {
            assert!(is_email(ok), "{ok} should pass");
        }
        for bad in [
            "bad",
            "a@b",
            "x@localhost",
            "a@b.c",
            "",
            "@x.com",
            "a@@x.com",
            "a..b@x.com",
            "a@-x.com",
            "a b@x.com",
        ] {
            assert!(!is_email(bad), "{bad} should fail");
        }
    }

    #[test]
    fn locales_accepted_and_rejected_like_validator_js() {
        for ok in [
            "en",
            "EN",
            "en-US",
            "en_US",
            "sv",
            "english",
            "zh-Hant-TW",
            "de_DE_POSIX",
            "zz-ZZZZ",
        ] {
            assert!(is_locale(ok), "{ok} should pass");
        }
        for bad in ["", "e", "x", "123", "en-"] {
            assert!(!is_locale(bad), "{bad} should fail");
        }
    }
}
