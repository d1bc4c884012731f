//! Sample frames for demos, tests and benchmarks, made without an image library.
//!
//! [`gradient_png`] writes a real, decodable PNG (zlib "stored" blocks, correct CRCs), so any
//! viewer or the platform accepts it. Its size grows with the pixel count (about 3 bytes per
//! pixel), which makes it handy for producing frames of a chosen byte size.

/// A valid RGB PNG of `width`×`height` pixels: a horizontal gradient from `from` to `to`.
pub fn gradient_png(width: u32, height: u32, from: [u8; 3], to: [u8; 3]) -> Vec<u8> {
    let row_len = 1 + 3 * width as usize;
    let mut row = Vec::with_capacity(row_len);
    row.push(0u8); // filter type: none
    for x in 0..width {
        let t = if width > 1 {
            x as f32 / (width - 1) as f32
        } else {
            0.0
        };
        for c in 0..3 {
            let v = from[c] as f32 + (to[c] as f32 - from[c] as f32) * t;
            row.push(v.round() as u8);
        }
    }
    let raw_len = row_len * height as usize;

    let mut idat = Vec::with_capacity(raw_len + raw_len / 65_535 * 5 + 16);
    idat.extend_from_slice(&[0x78, 0x01]); // zlib header, no compression
    let mut adler = Adler32::default();
    let mut pending = 0usize; // bytes written into the current stored block
    let mut block_len = 0usize;
    let mut remaining = raw_len;
    for _ in 0..height {
        let mut rest: &[u8] = &row;
        while !rest.is_empty() {
            if pending == 0 {
                let block = remaining.min(65_535);
                let last = remaining == block;
                idat.push(u8::from(last));
                idat.extend_from_slice(&(block as u16).to_le_bytes());
                idat.extend_from_slice(&(!(block as u16)).to_le_bytes());
                block_len = block;
            }
            let take = rest.len().min(block_len - pending);
            idat.extend_from_slice(&rest[..take]);
            adler.update(&rest[..take]);
            pending += take;
            remaining -= take;
            rest = &rest[take..];
            if pending == block_len {
                pending = 0;
            }
        }
    }
    idat.extend_from_slice(&adler.finish().to_be_bytes());

    let mut png = Vec::with_capacity(idat.len() + 64);
    png.extend_from_slice(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]);
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    write_chunk(&mut png, b"IHDR", &ihdr);
    write_chunk(&mut png, b"IDAT", &idat);
    write_chunk(&mut png, b"IEND", &[]);
    png
}

/// The header of a baseline JPEG of `width`×`height` pixels (SOI, SOF0, EOI): enough for format
/// sniffing and size reading, not for display.
pub fn jpeg_header(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    jpeg.extend_from_slice(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    jpeg.extend_from_slice(&height.to_be_bytes());
    jpeg.extend_from_slice(&width.to_be_bytes());
    jpeg.extend_from_slice(&[0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    jpeg
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = Crc32::default();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finish().to_be_bytes());
}

#[derive(Default)]
struct Adler32 {
    a: u32,
    b: u32,
    started: bool,
}

impl Adler32 {
    fn update(&mut self, data: &[u8]) {
        if !self.started {
            self.a = 1;
            self.started = true;
        }
        for chunk in data.chunks(5552) {
            for &byte in chunk {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= 65_521;
            self.b %= 65_521;
        }
    }

    fn finish(&self) -> u32 {
        if self.started {
            (self.b << 16) | self.a
        } else {
            1
        }
    }
}

struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32(0xFFFF_FFFF)
    }
}

impl Crc32 {
    fn update(&mut self, data: &[u8]) {
        for &byte in data {
            let mut c = (self.0 ^ u32::from(byte)) & 0xFF;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            self.0 = (self.0 >> 8) ^ c;
        }
    }

    fn finish(&self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_adler_match_known_values() {
        let mut crc = Crc32::default();
        crc.update(b"123456789");
        assert_eq!(crc.finish(), 0xCBF4_3926);
        let mut adler = Adler32::default();
        adler.update(b"Wikipedia");
        assert_eq!(adler.finish(), 0x11E6_0398);
    }

    #[test]
    fn png_has_the_requested_size() {
        let png = gradient_png(300, 200, [0, 0, 0], [255, 255, 255]);
        let size = imagesize::blob_size(&png).unwrap();
        assert_eq!((size.width, size.height), (300, 200));
        // Pixel data is stored uncompressed: three bytes per pixel plus a filter byte per row.
        assert!(png.len() > 300 * 200 * 3);
        let jpeg = jpeg_header(90, 160);
        let size = imagesize::blob_size(&jpeg).unwrap();
        assert_eq!((size.width, size.height), (90, 160));
    }
}
