//! [`PageSize`]: how many items a page of history, changes, search hits or members holds.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many items one page holds: the service's default
/// ([`Limits::default_page_size`](crate::Limits::default_page_size)), or a size the caller
/// asked for, which the service accepts from 1 to
/// [`Limits::max_page_size`](crate::Limits::max_page_size) and refuses otherwise (`Validation`
/// on `limit`).
///
/// Calls take anything that converts: `None` or `PageSize::DEFAULT` for the default, `Some(50)`,
/// `50` or `PageSize::of(50)` for fifty. In JSON it is a number or `null`; any integer is read
/// (one outside 1 to the maximum is then refused by the service, naming the field).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PageSize(Option<u32>);

impl PageSize {
    /// The service's default size.
    pub const DEFAULT: Self = Self(None);

    /// A page of `n` items.
    #[must_use]
    pub const fn of(n: u32) -> Self {
        Self(Some(n))
    }

    /// A size a transport received as a signed number: anything outside `u32` stands for 0,
    /// which the service refuses, as it refuses any size below 1.
    #[must_use]
    pub fn requested(n: i64) -> Self {
        Self(Some(u32::try_from(n).unwrap_or(0)))
    }

    /// The size asked for; `None` for the default.
    #[must_use]
    pub const fn get(self) -> Option<u32> {
        self.0
    }
}

impl From<Option<u32>> for PageSize {
    fn from(size: Option<u32>) -> Self {
        Self(size)
    }
}

impl From<u32> for PageSize {
    fn from(size: u32) -> Self {
        Self::of(size)
    }
}

impl Serialize for PageSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PageSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<i64>::deserialize(deserializer)?.map_or(Self::DEFAULT, Self::requested))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_convert_and_read_any_integer() {
        assert_eq!(PageSize::from(None), PageSize::DEFAULT);
        assert_eq!(PageSize::from(Some(5)), PageSize::of(5));
        assert_eq!(PageSize::from(7).get(), Some(7));
        assert_eq!(PageSize::requested(-1), PageSize::of(0));
        assert_eq!(PageSize::requested(i64::MAX), PageSize::of(0));
        let read = |json: &str| serde_json::from_str::<PageSize>(json).unwrap();
        assert_eq!(read("null"), PageSize::DEFAULT);
        assert_eq!(read("20"), PageSize::of(20));
        assert_eq!(read("-3"), PageSize::of(0));
        assert_eq!(serde_json::to_string(&PageSize::of(9)).unwrap(), "9");
    }
}
