//! The hostile child: `--hostile writer|reader NAME SEED SECONDS`. It prints `ready` once the
//! buffer is its to scribble on, scribbles for SECONDS, and exits 0. Its writes go through
//! the segment's file in `/dev/shm` (a second mapping would change nothing: the bytes are the
//! same), so it needs no `unsafe`.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use zerobuffer::layout::{oieb as offsets, FRAME_HEADER_SIZE, OIEB_SIZE};
use zerobuffer::{BufferConfig, NamedSemaphore, Reader};

/// The buffer both soaks use.
pub const CONFIG: BufferConfig = BufferConfig::new(1024, 64 * 1024);

pub fn run(args: &[String]) -> ExitCode {
    let [role, name, seed, seconds] = args else {
        eprintln!("usage: --hostile writer|reader NAME SEED SECONDS");
        return ExitCode::from(2);
    };
    let (Ok(seed), Ok(seconds)) = (seed.parse::<u64>(), seconds.parse::<u64>()) else {
        eprintln!("--hostile: SEED and SECONDS are numbers");
        return ExitCode::from(2);
    };
    let mut rng = fastrand::Rng::with_seed(seed);
    let until = Instant::now() + Duration::from_secs(seconds);
    let outcome = match role.as_str() {
        "writer" => writer(name, &mut rng, until),
        "reader" => reader(name, &mut rng, until),
        other => Err(format!("no hostile role {other:?}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile {role}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The segment and where its regions are.
struct Segment {
    file: File,
    len: u64,
    payload_start: u64,
    payload_size: u64,
}

impl Segment {
    fn open(name: &str) -> Result<Segment, String> {
        let path = format!("/dev/shm/{name}");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("open {path}: {e}"))?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        Ok(Segment {
            file,
            len,
            payload_start: OIEB_SIZE as u64 + CONFIG.metadata_block(),
            payload_size: CONFIG.payload_block(),
        })
    }

    /// Writes `bytes` at `offset`, cut to the segment (its size never changes).
    fn put(&self, offset: u64, bytes: &[u8]) -> Result<(), String> {
        let room = self.len.saturating_sub(offset).min(bytes.len() as u64) as usize;
        self.file
            .write_all_at(&bytes[..room], offset)
            .map_err(|e| format!("write at {offset}: {e}"))
    }

    fn put_u64(&self, offset: usize, value: u64) -> Result<(), String> {
        self.put(offset as u64, &value.to_le_bytes())
    }

    fn get_u64(&self, offset: usize) -> u64 {
        let mut bytes = [0u8; 8];
        let _ = self.file.read_exact_at(&mut bytes, offset as u64);
        u64::from_le_bytes(bytes)
    }
}

/// A value a buggy peer might write into a counter or position: anything, or one near the
/// edges that bounds checks exist for.
fn nasty(rng: &mut fastrand::Rng, payload: u64) -> u64 {
    match rng.u8(0..8) {
        0 => 0,
        1 => u64::MAX,
        2 => payload,
        3 => payload + rng.u64(1..64),
        4 => payload.saturating_sub(rng.u64(0..64)),
        5 => rng.u64(0..payload),
        6 => 1u64 << rng.u32(0..64),
        _ => rng.u64(..),
    }
}

fn bytes(rng: &mut fastrand::Rng, len: usize) -> Vec<u8> {
    std::iter::repeat_with(|| rng.u8(..)).take(len).collect()
}

fn ready() -> Result<(), String> {
    let mut out = std::io::stdout();
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

/// Now and then lets the other side run.
fn pause(rng: &mut fastrand::Rng) {
    if rng.u8(0..16) == 0 {
        std::thread::sleep(Duration::from_micros(rng.u64(0..300)));
    }
}

/// What the hostile writer believes of the ring; the reader may disagree.
struct Cursor {
    write_pos: u64,
    sequence: u64,
}

/// A frame as the protocol has it (wrapping with a marker when it does not fit), if the
/// OIEB says there is room; counts, position and free bytes updated, `sem-w` posted.
fn well_formed(
    segment: &Segment,
    cursor: &mut Cursor,
    rng: &mut fastrand::Rng,
    data_ready: &NamedSemaphore,
) -> Result<(), String> {
    let payload = segment.payload_size;
    let size = rng.u64(1..2048);
    let need = FRAME_HEADER_SIZE as u64 + size;
    let mut free = segment.get_u64(offsets::PAYLOAD_FREE_BYTES);
    if cursor.write_pos.saturating_add(need) > payload {
        let wasted = payload.saturating_sub(cursor.write_pos);
        if free < wasted + need {
            return Ok(());
        }
        if wasted >= FRAME_HEADER_SIZE as u64 {
            segment.put(
                segment.payload_start + cursor.write_pos,
                &[0u8; FRAME_HEADER_SIZE],
            )?;
        }
        free -= wasted;
        cursor.write_pos = 0;
    }
    if free < need {
        return Ok(());
    }
    let start = segment.payload_start + cursor.write_pos;
    let mut frame = size.to_le_bytes().to_vec();
    frame.extend(cursor.sequence.to_le_bytes());
    frame.extend(bytes(rng, size as usize));
    segment.put(start, &frame)?;
    cursor.write_pos += need;
    cursor.sequence += 1;
    segment.put_u64(offsets::PAYLOAD_WRITE_POS, cursor.write_pos)?;
    segment.put_u64(offsets::PAYLOAD_FREE_BYTES, free - need)?;
    let written = segment.get_u64(offsets::PAYLOAD_WRITTEN_COUNT);
    segment.put_u64(offsets::PAYLOAD_WRITTEN_COUNT, written.wrapping_add(1))?;
    let _ = data_ready.post();
    Ok(())
}

/// Claims to be the buffer's writer: mostly writes frames as the protocol has them, and
/// now and then scribbles anywhere, or starts over where the reader says it is.
fn writer(name: &str, rng: &mut fastrand::Rng, until: Instant) -> Result<(), String> {
    let segment = Segment::open(name)?;
    let data_ready =
        NamedSemaphore::open(&format!("/sem-w-{name}")).map_err(|e| format!("sem-w: {e}"))?;
    let me = u64::from(std::process::id());
    segment.put_u64(offsets::WRITER_PID, me)?;
    ready()?;
    let payload = segment.payload_size;
    let mut cursor = Cursor {
        write_pos: 0,
        sequence: 1,
    };
    while Instant::now() < until {
        match rng.u8(0..32) {
            0..=23 => well_formed(&segment, &mut cursor, rng, &data_ready)?,
            // A header that looks right, or nearly, anywhere.
            24 => {
                let at = rng.u64(0..payload);
                let size = match rng.u8(0..4) {
                    0 => nasty(rng, payload),
                    _ => rng.u64(1..2048),
                };
                let seq = if rng.bool() {
                    rng.u64(..)
                } else {
                    cursor.sequence
                };
                let mut header = size.to_le_bytes().to_vec();
                header.extend(seq.to_le_bytes());
                segment.put(segment.payload_start + at, &header)?;
                let written = segment.get_u64(offsets::PAYLOAD_WRITTEN_COUNT);
                segment.put_u64(offsets::PAYLOAD_WRITTEN_COUNT, written.wrapping_add(1))?;
                let _ = data_ready.post();
            }
            // Any field of the OIEB, any value.
            25 => {
                let field = rng.usize(0..OIEB_SIZE / 8) * 8;
                segment.put_u64(field, nasty(rng, payload))?;
            }
            // Garbage in the ring or the metadata.
            26..=27 => {
                let at = rng.u64(OIEB_SIZE as u64..segment.len);
                let len = rng.usize(1..64);
                segment.put(at, &bytes(rng, len))?;
            }
            28 => {
                for _ in 0..rng.u8(1..5) {
                    let _ = data_ready.post();
                }
            }
            // Gone, it says, or some other process's PID; then alive again.
            29 => {
                segment.put_u64(offsets::WRITER_PID, nasty(rng, payload))?;
                std::thread::sleep(Duration::from_micros(rng.u64(0..200)));
                segment.put_u64(offsets::WRITER_PID, me)?;
            }
            // Starts over where the reader says it is, with the sequence it expects.
            _ => {
                let read_pos = segment.get_u64(offsets::PAYLOAD_READ_POS);
                let read_count = segment.get_u64(offsets::PAYLOAD_READ_COUNT);
                cursor.write_pos = read_pos.min(payload);
                cursor.sequence = read_count.wrapping_add(1);
                segment.put_u64(offsets::PAYLOAD_WRITE_POS, cursor.write_pos)?;
                segment.put_u64(offsets::PAYLOAD_WRITTEN_COUNT, read_count)?;
                segment.put_u64(offsets::PAYLOAD_FREE_BYTES, payload)?;
                segment.put_u64(offsets::WRITER_PID, me)?;
            }
        }
        pause(rng);
    }
    Ok(())
}

/// Creates the buffer as a real reader, then lies in the reader's fields of the OIEB.
fn reader(name: &str, rng: &mut fastrand::Rng, until: Instant) -> Result<(), String> {
    let reader = Reader::create(name, CONFIG).map_err(|e| format!("create: {e}"))?;
    let segment = Segment::open(name)?;
    let space =
        NamedSemaphore::open(&format!("/sem-r-{name}")).map_err(|e| format!("sem-r: {e}"))?;
    let me = u64::from(std::process::id());
    ready()?;
    // The lies start once our writer is in: before, they would only keep it out.
    if !reader.wait_for_writer(Duration::from_secs(10)) {
        return Err("no writer connected within 10 s".into());
    }
    let payload = segment.payload_size;
    let fields = [
        offsets::PAYLOAD_FREE_BYTES,
        offsets::PAYLOAD_READ_POS,
        offsets::PAYLOAD_READ_COUNT,
        offsets::PAYLOAD_WRITE_POS,
        offsets::PAYLOAD_WRITTEN_COUNT,
    ];
    while Instant::now() < until {
        match rng.u8(0..8) {
            // Reads for real now and then, so the writer meets released space too; what our
            // own reader says of the scribbled ring is beside the point here.
            0..=2 => drop(reader.read_frame(Duration::from_millis(1))),
            3..=4 => {
                let field = fields[rng.usize(0..fields.len())];
                segment.put_u64(field, nasty(rng, payload))?;
            }
            5 => {
                for _ in 0..rng.u8(1..5) {
                    let _ = space.post();
                }
            }
            6 => {
                let pid = if rng.u8(0..8) == 0 {
                    nasty(rng, payload)
                } else {
                    me
                };
                segment.put_u64(offsets::READER_PID, pid)?;
            }
            _ => {
                let field = rng.usize(0..OIEB_SIZE / 8) * 8;
                segment.put_u64(field, nasty(rng, payload))?;
            }
        }
        pause(rng);
    }
    drop(reader);
    Ok(())
}
