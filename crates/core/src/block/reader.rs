//! A bounds-checked cursor over untrusted bytes, with Bitcoin's CompactSize.
//!
//! Every read checks the bytes that are actually left, and every count is
//! compared with them before anything is sized from it: a peer's claim of a
//! billion inputs costs one comparison, not an allocation.

use super::error::{ParseError, Problem};

/// The largest CompactSize accepted, as Bitcoin Core's `MAX_SIZE` (32 MiB): a
/// serialization claiming more is refused before the bytes are even looked at.
pub const MAX_COMPACT_SIZE: u64 = 0x0200_0000;

/// A position in a byte slice; reads advance it or fail with the offset they
/// failed at.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], pos: usize) -> Self {
        Self { data, pos }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn fail(&self, problem: Problem) -> ParseError {
        ParseError {
            offset: self.pos,
            problem,
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ParseError> {
        if n > self.remaining() {
            return Err(self.fail(Problem::Truncated {
                what,
                needed: n,
                available: self.remaining(),
            }));
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<&'a [u8; N], ParseError> {
        // `take` returned exactly N bytes, so the conversion cannot fail.
        self.take(N, what)
            .map(|b| b.try_into().expect("take returned N bytes"))
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ParseError> {
        self.array::<1>(what).map(|b| b[0])
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ParseError> {
        self.array::<4>(what).map(|b| u32::from_le_bytes(*b))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, ParseError> {
        self.array::<8>(what).map(|b| i64::from_le_bytes(*b))
    }

    /// A CompactSize: one byte below 0xfd, else a marker and 2, 4 or 8 bytes.
    /// Refused, like Bitcoin Core: a value that fits a shorter form
    /// (non-canonical, so one transaction would have two serializations), and
    /// a value above [`MAX_COMPACT_SIZE`].
    pub(crate) fn compact_size(&mut self, what: &'static str) -> Result<u64, ParseError> {
        let at = self.pos;
        let first = self.u8(what)?;
        let (value, smallest) = match first {
            0..=0xfc => return Ok(u64::from(first)),
            0xfd => (u64::from(u16::from_le_bytes(*self.array(what)?)), 0xfd),
            0xfe => (u64::from(u32::from_le_bytes(*self.array(what)?)), 0x1_0000),
            0xff => (u64::from_le_bytes(*self.array(what)?), 0x1_0000_0000),
        };
        let problem = if value < smallest {
            Problem::NonCanonicalSize { what, value }
        } else if value > MAX_COMPACT_SIZE {
            Problem::SizeTooLarge { what, value }
        } else {
            return Ok(value);
        };
        Err(ParseError {
            offset: at,
            problem,
        })
    }

    /// A CompactSize count of items that each take at least `min_item_len`
    /// bytes: refused unless that many items could fit in what is left, so
    /// the caller may size a buffer from it.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        min_item_len: usize,
    ) -> Result<usize, ParseError> {
        let at = self.pos;
        let count = self.compact_size(what)?;
        // MAX_COMPACT_SIZE keeps `count` far below usize::MAX on every target.
        let count = count as usize;
        if count.saturating_mul(min_item_len.max(1)) > self.remaining() {
            return Err(ParseError {
                offset: at,
                problem: Problem::CountExceedsData {
                    what,
                    count,
                    available: self.remaining(),
                },
            });
        }
        Ok(count)
    }

    /// A CompactSize length followed by that many bytes.
    pub(crate) fn var_bytes(&mut self, what: &'static str) -> Result<&'a [u8], ParseError> {
        let len = self.count(what, 1)?;
        self.take(len, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<u64, ParseError> {
        Reader::new(bytes, 0).compact_size("n")
    }

    #[test]
    fn compact_sizes_in_each_width() {
        assert_eq!(read(&[0xfc]).unwrap(), 0xfc);
        assert_eq!(read(&[0xfd, 0xfd, 0x00]).unwrap(), 0xfd);
        assert_eq!(read(&[0xfe, 0x00, 0x00, 0x01, 0x00]).unwrap(), 0x1_0000);
    }

    #[test]
    fn non_canonical_compact_sizes_are_refused() {
        for bytes in [
            &[0xfd, 0xfc, 0x00][..],
            &[0xfe, 0xff, 0xff, 0x00, 0x00],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00],
        ] {
            let err = read(bytes).unwrap_err();
            assert!(
                matches!(err.problem, Problem::NonCanonicalSize { .. }),
                "{err}"
            );
            assert_eq!(err.offset, 0);
        }
    }

    #[test]
    fn compact_sizes_above_32_mib_are_refused() {
        let err = read(&[0xfe, 0x01, 0x00, 0x00, 0x02]).unwrap_err();
        assert!(matches!(err.problem, Problem::SizeTooLarge { .. }), "{err}");
        let err = read(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(matches!(err.problem, Problem::SizeTooLarge { .. }), "{err}");
    }

    #[test]
    fn a_count_must_fit_the_bytes_left() {
        // 3 items of at least 2 bytes need 6 bytes; 5 are left.
        let bytes = [3, 0, 0, 0, 0, 0];
        let err = Reader::new(&bytes, 0).count("items", 2).unwrap_err();
        assert!(matches!(
            err.problem,
            Problem::CountExceedsData {
                count: 3,
                available: 5,
                ..
            }
        ));
        assert_eq!(Reader::new(&bytes, 0).count("items", 1).unwrap(), 3);
    }

    #[test]
    fn truncated_reads_name_the_offset() {
        let mut r = Reader::new(&[1, 2, 3], 0);
        r.take(2, "a").unwrap();
        let err = r.u32("b").unwrap_err();
        assert_eq!(err.offset, 2);
        assert!(matches!(
            err.problem,
            Problem::Truncated {
                needed: 4,
                available: 1,
                ..
            }
        ));
    }
}
