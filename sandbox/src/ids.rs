//! Qualtrics-style ids for what the sandbox brand makes (users, groups, divisions, user types,
//! roles, participants): a home of their own, below the brand and its roles, which both make
//! them.

use rand::Rng;

/// A Qualtrics-style id: `prefix` and 15 letters and digits.
pub fn make_id(rng: &mut impl Rng, prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..15)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}
