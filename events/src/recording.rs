//! Raw ring-buffer records saved to a file, to replay a real stream through
//! the decoder and the collector without the kernel (benchmarks, fuzz
//! seeds). The format is a magic line, then each record as a little-endian
//! `u32` length and its bytes, exactly as they were read from the ring.

use std::io::{self, Write};

/// The first bytes of a recording.
pub const MAGIC: &[u8; 8] = b"CRDLRAW1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordingError {
    #[error("not a raw-record recording: it does not start with {:?}", std::str::from_utf8(MAGIC).unwrap_or_default())]
    BadMagic,
    #[error("record at byte {offset} claims {claimed} bytes but only {left} remain")]
    Truncated { offset: usize, claimed: usize, left: usize },
}

/// Writes records in the recording format.
pub struct RecordingWriter<W: Write> {
    out: W,
    records: u64,
}

impl<W: Write> RecordingWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        Ok(RecordingWriter { out, records: 0 })
    }

    pub fn write(&mut self, record: &[u8]) -> io::Result<()> {
        let len = u32::try_from(record.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record over 4 GiB"))?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(record)?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The records of a recording, in the order they were read from the ring.
pub fn parse(bytes: &[u8]) -> Result<Vec<&[u8]>, RecordingError> {
    let mut rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(RecordingError::BadMagic)?;
    let mut records = Vec::new();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let (len, after) = rest.split_first_chunk::<4>().ok_or(RecordingError::Truncated {
            offset,
            claimed: 4,
            left: rest.len(),
        })?;
        let claimed = u32::from_le_bytes(*len) as usize;
        if claimed > after.len() {
            return Err(RecordingError::Truncated { offset, claimed, left: after.len() });
        }
        let (record, after) = after.split_at(claimed);
        records.push(record);
        rest = after;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_in_order() {
        let mut writer = RecordingWriter::new(Vec::new()).unwrap();
        for record in [&b"first"[..], b"", b"third record"] {
            writer.write(record).unwrap();
        }
        assert_eq!(writer.records(), 3);
        let bytes = writer.finish().unwrap();
        assert_eq!(parse(&bytes).unwrap(), vec![&b"first"[..], b"", b"third record"]);
    }

    #[test]
    fn rejects_foreign_and_cut_files() {
        assert_eq!(parse(b"{\"kind\":\"exec\"}"), Err(RecordingError::BadMagic));
        let mut writer = RecordingWriter::new(Vec::new()).unwrap();
        writer.write(b"0123456789").unwrap();
        let bytes = writer.finish().unwrap();
        assert_eq!(
            parse(&bytes[..bytes.len() - 1]),
            Err(RecordingError::Truncated { offset: 8, claimed: 10, left: 9 })
        );
        assert_eq!(
            parse(&bytes[..10]),
            Err(RecordingError::Truncated { offset: 8, claimed: 4, left: 2 })
        );
        assert_eq!(parse(MAGIC).unwrap(), Vec::<&[u8]>::new());
    }
}
