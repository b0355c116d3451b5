//! What the shared-memory fuzz targets share: a buffer name of their own per run, and the
//! segment seen the way a peer process sees it, through its file in `/dev/shm` (the bytes are
//! those the library maps, so no second mapping, and no `unsafe`, is needed to scribble).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt as _;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::Arbitrary;
use zerobuffer::layout::{oieb, OIEB_SIZE};

/// Prefix of the fuzz targets' buffers; `scripts/fuzz.sh` removes what a crashed run left.
pub const NAME_PREFIX: &str = "zbfuzz_";

/// A buffer name no other run (or earlier input of this run) uses.
pub fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{NAME_PREFIX}{}_{n}", std::process::id())
}

/// The OIEB's words, by index (`offset / 8`), as the fuzzer names them.
pub const OIEB_WORDS: usize = OIEB_SIZE / 8;

/// A live buffer's segment, opened as a file.
pub struct Segment {
    file: File,
    len: u64,
}

impl Segment {
    pub fn open(name: &str) -> Segment {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/dev/shm/{name}"))
            .expect("the buffer just created has a segment");
        let len = file.metadata().expect("segment metadata").len();
        Segment { file, len }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes `bytes` at `offset`, cut to the segment (whose size never changes).
    pub fn put(&self, offset: u64, bytes: &[u8]) {
        let room = self.len.saturating_sub(offset).min(bytes.len() as u64) as usize;
        if room > 0 {
            self.file
                .write_all_at(&bytes[..room], offset)
                .expect("writing the segment");
        }
    }

    pub fn get(&self, offset: u64, len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        self.file
            .read_exact_at(&mut bytes, offset)
            .expect("reading inside the segment");
        bytes
    }

    pub fn put_word(&self, index: usize, value: u64) {
        self.put(((index % OIEB_WORDS) * 8) as u64, &value.to_le_bytes());
    }

    pub fn word(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.get(offset as u64, 8).try_into().expect("8 bytes"))
    }

    /// The reader's ring position and the writer's, as the OIEB has them now.
    pub fn read_pos(&self) -> u64 {
        self.word(oieb::PAYLOAD_READ_POS)
    }

    pub fn write_pos(&self) -> u64 {
        self.word(oieb::PAYLOAD_WRITE_POS)
    }
}

/// A value for a counter, position or size: raw, or one near the edges that bounds checks
/// exist for (the fuzzer finds those slowly on its own).
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Value {
    Raw(u64),
    Zero,
    Max,
    /// The ring's size plus or minus a little.
    NearRing(i8),
    /// The segment's size plus or minus a little.
    NearSegment(i16),
    PowerOfTwo(u8),
}

impl Value {
    pub fn resolve(self, ring: u64, segment: u64) -> u64 {
        match self {
            Value::Raw(v) => v,
            Value::Zero => 0,
            Value::Max => u64::MAX,
            Value::NearRing(d) => ring.wrapping_add_signed(i64::from(d)),
            Value::NearSegment(d) => segment.wrapping_add_signed(i64::from(d)),
            Value::PowerOfTwo(p) => 1u64.checked_shl(u32::from(p % 64)).unwrap_or(1),
        }
    }
}
