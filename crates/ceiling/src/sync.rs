//! Headers-first sync from a headers file (peerwire's PWHDRS01 format): the
//! server answers getheaders with up to 2,000 headers; the client checks each
//! header's link to its parent, its proof of work and that its bits do not
//! change (a no-retarget chain, as the bench generates), asking for more until
//! it holds them all.

use crate::net::{command, Conn};
use crate::{listen, Result, Server, MAGIC};
use peerwire_core::{double_sha256, encode_frame};
use std::collections::HashMap;
use std::time::Instant;

const PREAMBLE: usize = 8 + 4 + 32 + 4;
const HEADER: usize = 80;
const PER_MESSAGE: usize = 2_000;

struct HeadersFile {
    genesis: [u8; 32],
    headers: Vec<u8>,
}

impl HeadersFile {
    fn read(path: &str) -> Result<HeadersFile> {
        let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        if bytes.len() < PREAMBLE || &bytes[..8] != b"PWHDRS01" || bytes[8..12] != MAGIC {
            return Err(format!("{path} is not a regtest PWHDRS01 headers file"));
        }
        let count = u32::from_le_bytes(bytes[44..48].try_into().unwrap()) as usize;
        if bytes.len() != PREAMBLE + count * HEADER {
            return Err(format!(
                "{path} declares {count} headers but has {} bytes",
                bytes.len()
            ));
        }
        Ok(HeadersFile {
            genesis: bytes[12..44].try_into().unwrap(),
            headers: bytes[PREAMBLE..].to_vec(),
        })
    }

    fn count(&self) -> usize {
        self.headers.len() / HEADER
    }
}

fn getheaders(locator: &[u8; 32]) -> Vec<u8> {
    let mut p = 70016u32.to_le_bytes().to_vec();
    p.push(1);
    p.extend_from_slice(locator);
    p.extend_from_slice(&[0u8; 32]);
    p
}

/// Whether `hash` (little-endian) is at or below the compact target `bits`.
fn meets_target(hash: &[u8; 32], bits: u32) -> bool {
    let exponent = (bits >> 24) as usize;
    let mantissa = bits & 0x007f_ffff;
    if bits & 0x0080_0000 != 0 || mantissa == 0 || !(3..=32).contains(&exponent) {
        return false;
    }
    let mut target = [0u8; 32];
    target[exponent - 3..exponent].copy_from_slice(&mantissa.to_le_bytes()[..3]);
    for i in (0..32).rev() {
        if hash[i] != target[i] {
            return hash[i] < target[i];
        }
    }
    true
}

pub fn measure(path: &str) -> Result<String> {
    let file = HeadersFile::read(path)?;
    let expected = file.count();
    drop(file.headers);
    let (_server, port) = Server::start(&["sync", path])?;
    let mut conn = Conn::connect(port)?;
    let ask = command("getheaders")?;
    let mut tip = file.genesis;
    let mut bits: Option<u32> = None;
    let mut height = 0usize;
    let t0 = Instant::now();
    while height < expected {
        conn.write(&encode_frame(MAGIC, &ask, &getheaders(&tip)))?;
        let frame = conn.next_frame()?.ok_or("the server closed early")?;
        let p = &frame.payload[..];
        let (n, body) = match p.first() {
            Some(&0xfd) if p.len() >= 3 => (u16::from_le_bytes([p[1], p[2]]) as usize, &p[3..]),
            Some(&n) if n < 0xfd => (n as usize, &p[1..]),
            _ => return Err("malformed headers count".into()),
        };
        if n == 0 || body.len() != n * (HEADER + 1) {
            return Err(format!("malformed headers message at height {height}"));
        }
        for entry in body.chunks_exact(HEADER + 1) {
            let header = &entry[..HEADER];
            if header[4..36] != tip {
                return Err(format!("header {} does not link to its parent", height + 1));
            }
            let b = u32::from_le_bytes(header[72..76].try_into().unwrap());
            if bits.is_some_and(|prev| prev != b) {
                return Err(format!("header {} changes the difficulty", height + 1));
            }
            bits = Some(b);
            let hash = double_sha256(header);
            if !meets_target(&hash, b) {
                return Err(format!("header {} fails its proof of work", height + 1));
            }
            tip = hash;
            height += 1;
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(format!(
        "{{\"headers\":{height},\"seconds\":{seconds},\"perSecond\":{}}}",
        height as f64 / seconds
    ))
}

/// Serves getheaders from the file until the client leaves.
pub fn serve(path: &str) -> Result<Option<String>> {
    let file = HeadersFile::read(path)?;
    let mut heights = HashMap::with_capacity(file.count() + 1);
    heights.insert(file.genesis, 0usize);
    for (i, header) in file.headers.chunks_exact(HEADER).enumerate() {
        heights.insert(double_sha256(header), i + 1);
    }
    let listener = listen()?;
    let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut conn = Conn::new(stream)?;
    let reply = command("headers")?;
    while let Some(frame) = conn.next_frame()? {
        let p = &frame.payload[..];
        if frame.command.as_str() != "getheaders" || p.len() < 5 {
            continue;
        }
        let count = p[4] as usize;
        let from = (0..count)
            .filter_map(|i| p.get(5 + i * 32..5 + (i + 1) * 32))
            .find_map(|h| heights.get(h))
            .copied()
            .unwrap_or(0);
        let to = (from + PER_MESSAGE).min(file.count());
        let n = to - from;
        let mut out = Vec::with_capacity(3 + n * (HEADER + 1));
        if n < 0xfd {
            out.push(n as u8);
        } else {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        for header in file.headers[from * HEADER..to * HEADER].chunks_exact(HEADER) {
            out.extend_from_slice(header);
            out.push(0);
        }
        conn.write(&encode_frame(MAGIC, &reply, &out))?;
    }
    Ok(None)
}
