//! A bounds-checked reader over untrusted bytes that knows where it is: every error it
//! returns names the section, the tensor (when set) and the absolute file offset.

use crate::error::{FormatError, FormatErrorKind};

pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// File offset of `data[0]`.
    base: u64,
    section: &'static str,
    tensor: Option<String>,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8], base: u64, section: &'static str) -> Self {
        Cursor { data, pos: 0, base, section, tensor: None }
    }

    pub(crate) fn set_tensor(&mut self, name: Option<String>) {
        self.tensor = name;
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// An error located at the cursor's current position.
    pub(crate) fn error(&self, kind: FormatErrorKind) -> FormatError {
        self.error_at(self.pos, kind)
    }

    /// An error located at `pos` (relative to this cursor's data).
    pub(crate) fn error_at(&self, pos: usize, kind: FormatErrorKind) -> FormatError {
        FormatError {
            section: self.section.to_string(),
            tensor: self.tensor.clone(),
            offset: self.base + pos as u64,
            kind,
        }
    }

    pub(crate) fn malformed(&self, what: impl Into<String>) -> FormatError {
        self.error(FormatErrorKind::Malformed(what.into()))
    }

    pub(crate) fn take(&mut self, n: u64) -> Result<&'a [u8], FormatError> {
        let available = self.remaining() as u64;
        if n > available {
            return Err(self.error(FormatErrorKind::Truncated { needed: n, available }));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.data[start..self.pos])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let bytes = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}
