//! The credentials this process holds (an API token, an OAuth client's secret, the access
//! tokens it was given), and [`redact`], which every text the CLI prints, logs or writes goes
//! through: Qualtrics' error texts are printed as Qualtrics wrote them, and an answer that
//! echoes a credential must not carry it into a terminal, a log, an audit or an outcome file.

use std::sync::Mutex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What a credential is replaced with.
pub const REDACTED: &str = "[credential removed]";

/// Remembers a credential to remove from every text from now on (shorter than 8 characters:
/// not a credential worth matching, and too likely to match ordinary words).
pub fn remember(secret: &str) {
    let secret = secret.trim();
    if secret.len() < 8 {
        return;
    }
    let mut all = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_string());
        // Longest first, so a secret containing another is removed whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every remembered credential replaced by [`REDACTED`].
#[must_use]
pub fn redact(text: &str) -> String {
    let all = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for secret in all.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_credentials_are_removed_from_any_text() {
        remember("abcdEFGH12345678");
        remember("short");
        let text = "Unrecognized X-API-TOKEN abcdEFGH12345678 (short)";
        assert_eq!(
            redact(text),
            format!("Unrecognized X-API-TOKEN {REDACTED} (short)")
        );
    }
}
