//! The test-data patterns every implementation's test code shares (protocol.md §11.1).

/// Byte `i` of frame data for sequence `seq`: `(i + seq) mod 256`.
pub fn frame_byte(i: usize, seq: u64) -> u8 {
    ((i as u64).wrapping_add(seq) & 0xFF) as u8
}

/// `generate_frame_data(size, seq)`.
pub fn frame_data(size: usize, seq: u64) -> Vec<u8> {
    (0..size).map(|i| frame_byte(i, seq)).collect()
}

/// Fills `buf` with `generate_frame_data(buf.len(), seq)` without allocating.
pub fn fill_frame_data(buf: &mut [u8], seq: u64) {
    // The pattern repeats every 256 bytes: build one period, then copy it.
    let mut period = [0u8; 256];
    for (i, b) in period.iter_mut().enumerate() {
        *b = frame_byte(i, seq);
    }
    for chunk in buf.chunks_mut(256) {
        chunk.copy_from_slice(&period[..chunk.len()]);
    }
}

/// Index of the first byte that differs from `generate_frame_data(data.len(), seq)`. Compares
/// a 256-byte period at a time, so checking a frame runs at memory speed.
pub fn first_frame_data_mismatch(data: &[u8], seq: u64) -> Option<usize> {
    let mut period = [0u8; 256];
    for (i, b) in period.iter_mut().enumerate() {
        *b = frame_byte(i, seq);
    }
    data.chunks(256).enumerate().find_map(|(n, chunk)| {
        (chunk != &period[..chunk.len()]).then(|| {
            let i = chunk.iter().zip(&period).position(|(a, b)| a != b);
            n * 256 + i.unwrap_or(0)
        })
    })
}

/// `generate_simple_frame_data(size)` and `generate_metadata(size)`: byte `i` is `i mod 256`.
pub fn simple_data(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i & 0xFF) as u8).collect()
}

/// `verify_simple_frame_data(data)`.
pub fn is_simple_data(data: &[u8]) -> bool {
    data.iter().enumerate().all(|(i, &b)| b == (i & 0xFF) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_the_shared_definition() {
        assert_eq!(frame_data(4, 254), vec![254, 255, 0, 1]);
        assert_eq!(frame_data(2, u64::MAX), vec![255, 0]);
        let mut buf = vec![0u8; 1000];
        fill_frame_data(&mut buf, 7);
        assert_eq!(buf, frame_data(1000, 7));
        assert_eq!(first_frame_data_mismatch(&buf, 7), None);
        buf[300] ^= 1;
        assert_eq!(first_frame_data_mismatch(&buf, 7), Some(300));
        assert!(is_simple_data(&simple_data(600)));
    }
}
