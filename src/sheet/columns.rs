//! Loose header matching: "User ID", "UserID", "user_id" and "USER-ID" are the same column.

/// A header reduced to lower-case letters and digits.
pub fn normalise_header(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The index of the first column whose normalised header is one of `aliases` (already
/// normalised), and every other column that also matches (so a caller can report duplicates).
#[must_use]
pub fn find_column(columns: &[String], aliases: &[&str]) -> (Option<usize>, Vec<usize>) {
    let mut hits = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| aliases.contains(&normalise_header(c).as_str()))
        .map(|(i, _)| i);
    let first = hits.next();
    (first, hits.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_loosely() {
        for h in ["User ID", "UserID", "user_id", "USER-ID", " user id "] {
            assert_eq!(normalise_header(h), "userid", "{h}");
        }
        let cols: Vec<String> = ["Name", "user id", "UserID"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(find_column(&cols, &["userid"]), (Some(1), vec![2]));
        assert_eq!(find_column(&cols, &["username"]), (None, vec![]));
    }
}
