//! Typed captures of step texts.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Result;

/// Parses a number from a table cell or a list item (text a capture's type cannot reach),
/// with the message of [`Number`].
pub(crate) fn num<T: FromStr>(text: &str) -> Result<T> {
    let Number(value) = text.parse::<Number<T>>()?;
    Ok(value)
}

/// Why a capture did not parse; its `Debug` is the plain message, because cucumber reports a
/// failed capture as "`name` can not be parsed to `Type`: {error:?}".
pub(crate) struct CaptureError(String);

impl fmt::Debug for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaptureError {}

/// A numeric capture: a count, a size in bytes, a sequence number or a seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Number<T>(pub T);

impl<T: FromStr> FromStr for Number<T> {
    type Err = CaptureError;

    fn from_str(text: &str) -> Result<Self, CaptureError> {
        text.trim()
            .parse()
            .map(Number)
            .map_err(|_| CaptureError(format!("'{text}' is not a valid number")))
    }
}

/// A duration captured in milliseconds (`'100' ms`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Millis(pub Duration);

impl FromStr for Millis {
    type Err = CaptureError;

    fn from_str(text: &str) -> Result<Self, CaptureError> {
        let Number(ms) = text.parse::<Number<u64>>()?;
        Ok(Millis(Duration::from_millis(ms)))
    }
}

/// A duration captured in seconds, fractions allowed (`'0.5' seconds`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seconds(pub Duration);

impl FromStr for Seconds {
    type Err = CaptureError;

    fn from_str(text: &str) -> Result<Self, CaptureError> {
        let Number(seconds) = text.parse::<Number<f64>>()?;
        Duration::try_from_secs_f64(seconds)
            .map(Seconds)
            .map_err(|_| CaptureError(format!("'{text}' is not a duration in seconds")))
    }
}

/// A percentage, with or without its `%` sign (`'5%'`), as a fraction (0.05).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Percent(pub f64);

impl FromStr for Percent {
    type Err = CaptureError;

    fn from_str(text: &str) -> Result<Self, CaptureError> {
        let Number(value) = text.trim().trim_end_matches('%').parse::<Number<f64>>()?;
        Ok(Percent(value / 100.0))
    }
}

/// A multiple of something, with or without its `x` (`'1.5x'`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ratio(pub f64);

impl FromStr for Ratio {
    type Err = CaptureError;

    fn from_str(text: &str) -> Result<Self, CaptureError> {
        let bare = text.trim().trim_end_matches(['x', 'X', '\u{d7}']);
        let Number(value) = bare.parse::<Number<f64>>()?;
        Ok(Ratio(value))
    }
}

/// A time in nanoseconds, with or without its unit (`'100ns'`, `'100'`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Nanos(pub f64);

impl FromStr for Nanos {
    type Err = CaptureError;

    fn from_str(text: &str) -> Result<Self, CaptureError> {
        let bare = text.trim().trim_end_matches("ns");
        let Number(value) = bare.parse::<Number<f64>>()?;
        Ok(Nanos(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_parse_their_units_and_name_bad_text() {
        assert_eq!("1024".parse::<Number<usize>>().unwrap(), Number(1024));
        assert_eq!(
            "250".parse::<Millis>().unwrap(),
            Millis(Duration::from_millis(250))
        );
        assert_eq!(
            "0.5".parse::<Seconds>().unwrap(),
            Seconds(Duration::from_millis(500))
        );
        assert_eq!("5%".parse::<Percent>().unwrap(), Percent(0.05));
        assert_eq!("1.5x".parse::<Ratio>().unwrap(), Ratio(1.5));
        assert_eq!("2".parse::<Ratio>().unwrap(), Ratio(2.0));
        assert_eq!("100ns".parse::<Nanos>().unwrap(), Nanos(100.0));
        assert_eq!("100 ns".parse::<Nanos>().unwrap(), Nanos(100.0));
        assert!("fast".parse::<Nanos>().is_err());
        let err = "ten".parse::<Number<u64>>().unwrap_err();
        assert_eq!(format!("{err:?}"), "'ten' is not a valid number");
        assert!("-1".parse::<Seconds>().is_err());
    }
}
