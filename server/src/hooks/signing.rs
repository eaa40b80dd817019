//! Signing secrets as the configuration holds them: a home of their own, below both the
//! configuration (which checks them at start) and the verification (which signs with them).

use base64::Engine;

/// The key bytes of a `whsec_…` secret (base64 after the prefix).
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .trim()
        .strip_prefix("whsec_")
        .unwrap_or(secret.trim());
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "a signing secret is whsec_ followed by base64".to_string())
}
