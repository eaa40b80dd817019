//! Time as the caller gives it: Unix milliseconds in, ISO 8601 text out. The core never reads
//! a clock (`Instant::now` panics on wasm32), so tests run on a virtual clock.

/// Milliseconds since 1970-01-01T00:00:00Z, supplied by the host.
pub type UnixMillis = u64;

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month 1-12.
    pub month: u32,
    /// Day 1-31.
    pub day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD`, optionally followed by a time (`T…`) which is ignored.
    pub fn parse_iso(text: &str) -> Option<Date> {
        let t = text.trim();
        // The usual `YYYY-MM-DD` read digit by digit (this runs once per row of a big sheet).
        if let [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] = *t.as_bytes() {
            let digits = [y1, y2, y3, y4, m1, m2, d1, d2];
            if digits.iter().all(u8::is_ascii_digit) {
                let n = |ds: &[u8]| ds.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
                let date = Date {
                    year: n(&digits[..4]) as i32,
                    month: n(&digits[4..6]),
                    day: n(&digits[6..]),
                };
                return date.is_valid().then_some(date);
            }
        }
        let date_part = t.split(['T', ' ']).next()?;
        let mut parts = date_part.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = Date {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        date.is_valid().then_some(date)
    }

    /// A month 1-12 and a day that month has.
    fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
    }

    /// The UTC date of a moment.
    #[must_use]
    pub fn from_unix_millis(ms: UnixMillis) -> Date {
        let (year, month, day) = civil_from_days((ms / 86_400_000) as i64);
        Date { year, month, day }
    }

    /// The date `days` days later.
    #[must_use]
    pub fn plus_days(&self, days: i64) -> Date {
        let (year, month, day) = civil_from_days(days_from_civil(*self) + days);
        Date { year, month, day }
    }

    /// `YYYY-MM-DD`.
    #[must_use]
    pub fn iso(&self) -> String {
        self.to_string()
    }

    /// The form sent to Qualtrics as `accountExpirationDate`: midnight UTC of the date, in the
    /// date-time form Get User returns (which form Qualtrics requires on write is unverified;
    /// the sandbox accepts both). Formats without allocating (`to_string()` for a `String`).
    #[must_use]
    pub fn qualtrics_datetime(&self) -> impl std::fmt::Display + '_ {
        struct Midnight<'d>(&'d Date);
        impl std::fmt::Display for Midnight<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}T00:00:00Z", self.0)
            }
        }
        Midnight(self)
    }
}

impl Date {
    /// [`Date::qualtrics_datetime`] as a cell, built without the formatting machinery (this
    /// runs once per row of a big provisioning sheet).
    #[must_use]
    pub fn qualtrics_datetime_cell(&self) -> crate::sheet::table::Cell {
        if !(0..=9999).contains(&self.year) {
            return smol_str::format_smolstr!("{}", self.qualtrics_datetime());
        }
        let digit = |n: u32| b'0' + (n % 10) as u8;
        let y = self.year as u32;
        let mut text = *b"0000-00-00T00:00:00Z";
        text[..4].copy_from_slice(&[digit(y / 1000), digit(y / 100), digit(y / 10), digit(y)]);
        text[5..7].copy_from_slice(&[digit(self.month / 10), digit(self.month)]);
        text[8..10].copy_from_slice(&[digit(self.day / 10), digit(self.day)]);
        crate::sheet::table::Cell::new(std::str::from_utf8(&text).expect("ASCII digits"))
    }
}

/// `YYYY-MM-DD`.
impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Howard Hinnant's civil-to-days algorithm (days since 1970-01-01).
fn days_from_civil(d: Date) -> i64 {
    let y = i64::from(d.year) - i64::from(d.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(d.month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a moment.
#[must_use]
pub fn iso_datetime(ms: UnixMillis) -> String {
    let date = Date::from_unix_millis(ms);
    let secs = (ms / 1000) % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date.iso(),
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_format() {
        assert_eq!(Date::parse_iso("2026-12-31").unwrap().iso(), "2026-12-31");
        assert_eq!(Date::parse_iso(" 2024-02-29T10:00:00Z ").unwrap().day, 29);
        assert_eq!(Date::parse_iso("2000-02-29").unwrap().iso(), "2000-02-29");
        assert_eq!(Date::parse_iso("0999-01-01").unwrap().year, 999);
        let d = |s| Date::parse_iso(s).unwrap();
        assert_eq!(d("2026-12-31").plus_days(1), d("2027-01-01"));
        assert_eq!(d("2024-02-28").plus_days(1), d("2024-02-29"));
        assert_eq!(d("2026-03-01").plus_days(-1), d("2026-02-28"));
        assert_eq!(
            Date::from_unix_millis(0).plus_days(20_000),
            Date::from_unix_millis(20_000 * 86_400_000)
        );
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "31/12/2026",
            "2026-1-1",
            "",
            "2026-12-31-1",
            "tomorrow",
            "2100-02-29",
            "2026-00-10",
            "2026-04-31",
            "2026-12-00",
            "2026-1a-01",
        ] {
            assert!(Date::parse_iso(bad).is_none(), "{bad}");
        }
        // 2026-11-22T13:45:10Z
        let ms = 1_795_355_110_000;
        assert_eq!(iso_datetime(ms), "2026-11-22T13:45:10Z");
        assert_eq!(Date::from_unix_millis(ms).iso(), "2026-11-22");
        assert_eq!(iso_datetime(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            Date::parse_iso("2027-01-31")
                .unwrap()
                .qualtrics_datetime()
                .to_string(),
            "2027-01-31T00:00:00Z"
        );
        for d in ["2027-01-31", "0999-12-01", "2400-02-29"] {
            let date = Date::parse_iso(d).unwrap();
            assert_eq!(
                date.qualtrics_datetime_cell(),
                date.qualtrics_datetime().to_string()
            );
        }
    }
}
