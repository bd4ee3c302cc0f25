//! Time as the domain stores it, and deadlines.

use std::future::Future;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};
use tokio::time::Instant;

/// The first instant RFC 3339 can write in UTC.
pub const EARLIEST: OffsetDateTime = datetime!(0000-01-01 00:00:00 UTC);
/// The last instant RFC 3339 can write in UTC.
pub const LATEST: OffsetDateTime = datetime!(9999-12-31 23:59:59.999_999_999 UTC);

/// `at` in UTC, held within [`EARLIEST`, `LATEST`]. A date GitLab sends is RFC 3339 with its own offset, so it can
/// lie just past either end once the offset is taken off (`9999-12-31T20:00:00-05:00` is year 10000 in UTC), and
/// git allows any date. Such a date is clamped, never a panic: it still sorts after (or before) every other, and
/// the commit keeps GitLab's exact value in its own offset.
pub fn in_utc(at: OffsetDateTime) -> OffsetDateTime {
    match at.checked_to_offset(UtcOffset::UTC) {
        Some(utc) => utc.clamp(EARLIEST, LATEST),
        None if at.year() > 0 => LATEST,
        None => EARLIEST,
    }
}

/// RFC 3339 in UTC, which sorts lexicographically in time order (clamped as [`in_utc`] says).
pub fn utc(at: OffsetDateTime) -> String {
    // Cannot fail: every instant `in_utc` returns has a four-digit year and a whole-minute offset.
    in_utc(at).format(&Rfc3339).unwrap_or_default()
}

/// A stored RFC 3339 time read back; `None` when the text is none (an item edited by hand).
pub fn parse_utc(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Now, as stored on credentials (RFC 3339, UTC, whole seconds).
pub fn timestamp(now: OffsetDateTime) -> String {
    utc(now.replace_nanosecond(0).unwrap_or(now))
}

/// A change stamp: RFC 3339 in UTC with exactly six fractional digits (`2024-03-01T09:00:00.000000Z`), so that
/// stamps compare as strings in time order (RFC 3339 alone drops trailing zeros, and `00Z` sorts after `00.5Z`).
/// The commits table's `changed_at`, which the analytics export reads changes by.
pub fn change_stamp(at: OffsetDateTime) -> String {
    let at = in_utc(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// The change stamp of a write made now, raised to `floor` when this host's clock is behind it: taken right before
/// each call that writes, so that a write is visible in the change index before its stamp is more than one call
/// (and the index's lag) old, however long the batch it belongs to.
pub fn change_stamp_now(floor: Option<&str>) -> String {
    let now = change_stamp(OffsetDateTime::now_utc());
    match floor {
        Some(floor) if floor > now.as_str() => floor.to_owned(),
        _ => now,
    }
}

/// An invocation's deadline (ms since the epoch, as Lambda's context gives it) as an instant; `None` if it is
/// unset (or beyond what an instant can hold).
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let left = Duration::from_millis(u64::try_from(i128::from(deadline_ms) - now_ms).unwrap_or(0));
    Instant::now().checked_add(left)
}

/// `work`'s output, unless `abort_at` comes first.
pub async fn before<F: Future>(abort_at: Option<Instant>, work: F) -> Option<F::Output> {
    match abort_at {
        Some(at) => tokio::time::timeout_at(at, work).await.ok(),
        None => Some(work.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_strings_sort_in_time_order() {
        let a = time::macros::datetime!(2021-09-20 11:50:22 +03:00);
        let b = time::macros::datetime!(2021-09-20 09:00:00 +00:00);
        assert!(utc(a) < utc(b), "{} {}", utc(a), utc(b));
    }

    #[test]
    fn change_stamps_have_one_width_and_sort_in_time_order() {
        let whole = time::macros::datetime!(2024-03-01 09:00:00 +00:00);
        let half = time::macros::datetime!(2024-03-01 09:00:00.5 +00:00);
        let later = time::macros::datetime!(2024-03-01 11:00:00.000001 +02:00);
        assert_eq!(change_stamp(whole), "2024-03-01T09:00:00.000000Z");
        assert_eq!(change_stamp(later), "2024-03-01T09:00:00.000001Z");
        assert!(change_stamp(whole) < change_stamp(later));
        assert!(change_stamp(later) < change_stamp(half));
        // What RFC 3339 alone would get wrong.
        assert!(utc(whole) > utc(half));
    }

    #[test]
    fn a_write_stamp_is_nows_unless_the_floor_is_later() {
        let before = change_stamp(OffsetDateTime::now_utc());
        let stamp = change_stamp_now(Some("2000-01-01T00:00:00.000000Z"));
        assert!(stamp >= before, "{stamp} {before}");
        assert!(change_stamp_now(None) >= stamp);
        let ahead = "2999-01-01T00:00:00.000000Z";
        assert_eq!(change_stamp_now(Some(ahead)), ahead);
    }

    #[test]
    fn dates_past_either_end_of_rfc3339_in_utc_are_clamped_not_a_panic() {
        let parse = |text: &str| OffsetDateTime::parse(text, &Rfc3339).unwrap();
        let late = parse("9999-12-31T20:00:00.000-05:00");
        assert_eq!(utc(late), "9999-12-31T23:59:59.999999999Z");
        assert_eq!(change_stamp(late), "9999-12-31T23:59:59.999999Z");
        let early = parse("0000-01-01T00:30:00+01:00");
        assert_eq!(utc(early), "0000-01-01T00:00:00Z");
        assert_eq!(change_stamp(early), "0000-01-01T00:00:00.000000Z");
        // The largest and smallest instants the time crate holds, whatever their offset.
        let max =
            time::PrimitiveDateTime::MAX.assume_offset(UtcOffset::from_hms(-23, 59, 59).unwrap());
        let min =
            time::PrimitiveDateTime::MIN.assume_offset(UtcOffset::from_hms(23, 59, 59).unwrap());
        assert_eq!(in_utc(max), LATEST);
        assert_eq!(in_utc(min), EARLIEST);
        // Inside the range, nothing changes.
        let inside = parse("2021-09-20T11:50:22.000+03:00");
        assert_eq!(in_utc(inside), inside);
        assert_eq!(utc(inside), "2021-09-20T08:50:22Z");
    }

    #[test]
    fn timestamps_are_utc_whole_seconds() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(timestamp(at), "2023-11-14T22:13:20Z");
        let offset = at.to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(timestamp(offset), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn the_deadline_is_lambdas_and_never_overflows() {
        assert_eq!(deadline_from_epoch_ms(0), None);
        let in_five_minutes = (OffsetDateTime::now_utc().unix_timestamp() as u64 + 300) * 1000;
        let left = deadline_from_epoch_ms(in_five_minutes).unwrap() - Instant::now();
        assert!(
            left > Duration::from_secs(298) && left <= Duration::from_secs(300),
            "{left:?}"
        );
        let past = (OffsetDateTime::now_utc().unix_timestamp() as u64 - 300) * 1000;
        assert!(deadline_from_epoch_ms(past).unwrap() <= Instant::now());
        // Whatever it says, no panic.
        let _ = deadline_from_epoch_ms(u64::MAX);
    }
}
