//! The CLI's sheets: which kind a file is (`--kind`, or told by its columns) and tables printed
//! for people. Reading and writing the files themselves is `roster_native::files`.

use qualtrics_roster::run::SheetKind;
use qualtrics_roster::sheet::table::Table;

use super::CliError;

/// Which sheet a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Disable, enable, set expiry dates (User ID or Username, Action, Expiration date).
    Lifecycle,
    /// Create users and set their attributes (Username, First name, Last name, Email…).
    Provision,
    /// Group and role membership wanted (User, Group or role, Member).
    Membership,
}

impl From<Kind> for qualtrics_roster::run::SheetKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Lifecycle => Self::Lifecycle,
            Kind::Provision => Self::Provision,
            Kind::Membership => Self::Membership,
        }
    }
}

impl Kind {
    /// The word used in messages and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lifecycle => "lifecycle",
            Kind::Provision => "provision",
            Kind::Membership => "membership",
        }
    }

    /// The kind a sheet's columns say, as the core reads them (`SheetKind::detect`), or why
    /// they fit more than one kind (exit 2, asking for --kind).
    ///
    /// # Errors
    /// `CliError::Input` when the columns are ambiguous.
    pub fn detect(columns: &[String]) -> Result<Kind, CliError> {
        match SheetKind::detect(columns) {
            Ok(SheetKind::Lifecycle) => Ok(Kind::Lifecycle),
            Ok(SheetKind::Provision) => Ok(Kind::Provision),
            Ok(SheetKind::Membership) => Ok(Kind::Membership),
            Err(e) => Err(CliError::Input(e.to_string())),
        }
    }
}

/// A table as aligned text columns for a terminal (wide cells cut at 40 characters).
pub fn text_table(table: &Table, limit: Option<usize>) -> String {
    const MAX: usize = 40;
    let cut = |s: &str| -> String {
        let flat: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if console::measure_text_width(&flat) <= MAX {
            flat
        } else {
            let mut out = String::new();
            for c in flat.chars() {
                if console::measure_text_width(&out) >= MAX - 1 {
                    break;
                }
                out.push(c);
            }
            out.push('…');
            out
        }
    };
    let shown = limit.unwrap_or(table.rows.len()).min(table.rows.len());
    let mut lines: Vec<Vec<String>> = vec![table.columns.iter().map(|c| cut(c)).collect()];
    lines.extend(
        table.rows[..shown]
            .iter()
            .map(|r| r.iter().map(|c| cut(c)).collect()),
    );
    let columns = table.columns.len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            lines
                .iter()
                .map(|l| l.get(i).map_or(0, |c| console::measure_text_width(c)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, width) in widths.iter().enumerate() {
            let cell = line.get(i).map(String::as_str).unwrap_or("");
            text.push_str(cell);
            if i + 1 < columns {
                let pad = width - console::measure_text_width(cell) + 2;
                text.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    if shown < table.rows.len() {
        out.push_str(&format!(
            "… and {} more rows (write them all with --output FILE)\n",
            table.rows.len() - shown
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_kind_of_a_sheet_comes_from_its_columns() {
        assert_eq!(
            Kind::detect(&cols(&["User", "Group or role", "Member"])),
            Ok(Kind::Membership)
        );
        assert_eq!(
            Kind::detect(&cols(&["Username", "First Name", "last_name", "Team"])),
            Ok(Kind::Provision)
        );
        assert_eq!(
            Kind::detect(&cols(&["Username", "Action", "Expiration date"])),
            Ok(Kind::Lifecycle)
        );
        assert_eq!(Kind::detect(&cols(&["UserID"])), Ok(Kind::Lifecycle));
        // An edited `users list` export with an Action column is a lifecycle sheet.
        let export = [&qualtrics_roster::api::users::USER_COLUMNS[..], &["Action"]].concat();
        assert_eq!(Kind::detect(&cols(&export)), Ok(Kind::Lifecycle));
        // An Action beside a password fits both: refused, naming why.
        let both = Kind::detect(&cols(&["Username", "Action", "Password", "First name"]));
        let Err(CliError::Input(why)) = both else {
            panic!("ambiguous: {both:?}")
        };
        assert!(why.contains("--kind"), "{why}");
    }

    #[test]
    fn text_tables_align_wide_letters_and_cut_long_cells() {
        let t = Table {
            columns: cols(&["Name", "Note"]),
            rows: vec![
                qualtrics_roster::sheet::table::cells(cols(&["山田", "x"])),
                qualtrics_roster::sheet::table::cells(cols(&["Ann", &"y".repeat(60)])),
            ],
            row_numbers: vec![2, 3],
            lines: Vec::new(),
        };
        let text = text_table(&t, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Name  Note");
        assert_eq!(lines[1], "山田  x");
        assert!(lines[2].starts_with("Ann   yyy") && lines[2].ends_with('…'));
        assert_eq!(console::measure_text_width(lines[2]), 6 + 40);
        assert!(text_table(&t, Some(1))
            .ends_with("… and 1 more rows (write them all with --output FILE)\n"));
    }
}
