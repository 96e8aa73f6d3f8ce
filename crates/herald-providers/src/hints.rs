//! Secrets never leave this crate in an [`Attempt`]: webhook URLs and device tokens are shown only
//! as short hints, and any secret a provider echoes back in its answer is cut out of the detail
//! before the worker records it (Novu stores provider errors with request configs and headers
//! in them; Herald does not).

use herald_core::delivery::Attempt;

/// A device token for display: `…` and its last 6 characters (fewer for a short token, so that
/// at most half of it shows).
pub fn token_hint(token: &str) -> String {
    format!("…{}", tail(token.trim(), 6))
}

/// A webhook URL for display: scheme, host and port, then `…` and its last 4 characters (fewer
/// when the rest of the URL is short), e.g. `https://hooks.slack.com/…x9Qz`. Never the path,
/// which is where webhook URLs keep their secret.
pub fn webhook_hint(url: &str) -> String {
    let url = url.trim();
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
            let origin = parsed.origin().ascii_serialization();
            let rest = parsed
                .as_str()
                .strip_prefix(origin.as_str())
                .unwrap_or_else(|| parsed.path());
            format!("{origin}/…{}", tail(rest.trim_start_matches('/'), 4))
        }
        _ => format!("…{}", tail(url, 4)),
    }
}

/// The last `max` characters of `s`, but never more than half of them.
fn tail(s: &str, max: usize) -> &str {
    let count = s.chars().count();
    let keep = max.min(count / 2);
    let start = s
        .char_indices()
        .nth(count - keep)
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    &s[start..]
}

/// The strings an attempt must not contain (webhook URLs and their paths, tokens, keys).
#[derive(Default)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        // Short strings would match innocent text; nothing this short is a credential.
        if secret.len() >= 8 && !self.0.iter().any(|s| s == secret) {
            self.0.push(secret.to_owned());
        }
    }

    /// A URL, its path and its query each count as a secret.
    pub fn add_url(&mut self, url: &str) {
        self.add(url);
        if let Ok(parsed) = url::Url::parse(url.trim()) {
            self.add(parsed.as_str());
            self.add(parsed.path());
            if let Some(q) = parsed.query() {
                self.add(q);
            }
        }
    }

    /// `attempt` with every secret replaced by `…` (longest first, so a URL goes before its
    /// path). The replacement is shorter than any secret, so the detail stays within bounds.
    pub fn scrub(&self, mut attempt: Attempt) -> Attempt {
        let mut secrets: Vec<&String> = self.0.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let clean = |text: &mut String| {
            for s in &secrets {
                if text.contains(s.as_str()) {
                    *text = text.replace(s.as_str(), "…");
                }
            }
        };
        clean(&mut attempt.detail);
        if let Some(code) = attempt.provider_code.as_mut() {
            clean(code);
        }
        if let Some(id) = attempt.provider_message_id.as_mut() {
            clean(id);
        }
        attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::delivery::Outcome;

    #[test]
    fn a_token_hint_shows_the_last_six_characters_at_most_half() {
        assert_eq!(token_hint("fcm-token-0123456789abcdef"), "…abcdef");
        assert_eq!(token_hint("abcdefgh"), "…efgh");
        assert_eq!(token_hint("ab"), "…b");
        assert_eq!(token_hint(""), "…");
        assert_eq!(token_hint("ééééééééééééé"), "…éééééé");
    }

    #[test]
    fn a_webhook_hint_keeps_the_origin_and_four_characters_of_the_rest() {
        assert_eq!(
            webhook_hint("https://hooks.slack.com/services/T000/B000/XXXXsecretx9Qz"),
            "https://hooks.slack.com/…x9Qz"
        );
        assert_eq!(
            webhook_hint("http://127.0.0.1:8080/hooks/abcdef"),
            "http://127.0.0.1:8080/…cdef"
        );
        assert_eq!(webhook_hint("https://x.test/ab"), "https://x.test/…b");
        assert_eq!(webhook_hint("not a url at all"), "… all");
        let hint = webhook_hint("https://discord.com/api/webhooks/123/tok-en-secret");
        assert!(!hint.contains("tok-en"), "{hint}");
    }

    #[test]
    fn scrubbing_removes_urls_paths_and_tokens_from_every_field() {
        let mut secrets = Secrets::default();
        secrets.add_url("https://hooks.slack.com/services/T1/B2/secretpart");
        secrets.add("device-token-123456");
        secrets.add("short");
        let mut a = Attempt::new(
            Outcome::Rejected,
            "echo https://hooks.slack.com/services/T1/B2/secretpart and /services/T1/B2/secretpart \
             and device-token-123456 but short stays",
        );
        a.provider_code = Some("device-token-123456".into());
        let a = secrets.scrub(a);
        assert_eq!(a.detail, "echo … and … and … but short stays");
        assert_eq!(a.provider_code.as_deref(), Some("…"));
    }
}
