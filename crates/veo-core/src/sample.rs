//! Sample frames for demos, tests and benchmarks (the `sample` feature).
//!
//! [`gradient_png`] writes a real, decodable PNG with the `png` crate, stored without compression
//! so any viewer or the platform accepts it and its size grows with the pixel count (about 3 bytes
//! per pixel), which makes it handy for producing frames of a chosen byte size.

/// A valid RGB PNG of `width`×`height` pixels: a horizontal gradient from `from` to `to`.
///
/// The pixels are stored uncompressed, so the file is a little over `3 × width × height` bytes.
///
/// # Panics
///
/// If `width` or `height` is 0 (PNG has no empty images).
pub fn gradient_png(width: u32, height: u32, from: [u8; 3], to: [u8; 3]) -> Vec<u8> {
    let mut row = Vec::with_capacity(3 * width as usize);
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
    let pixels = row.repeat(height as usize);

    let mut png = Vec::with_capacity(pixels.len() + pixels.len() / 65_535 * 5 + 128);
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::NoCompression);
    let mut writer = encoder
        .write_header()
        .expect("a PNG header for a non-empty RGB image");
    writer
        .write_image_data(&pixels)
        .expect("writing to memory cannot fail");
    writer.finish().expect("writing to memory cannot fail");
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn png_decodes_to_the_gradient() {
        let png = gradient_png(5, 3, [0, 100, 200], [200, 100, 0]);
        assert_eq!(
            crate::ImageFormat::sniff(&png),
            Some(crate::ImageFormat::Png)
        );
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), (5, 3));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let row = &pixels[..info.line_size];
        assert_eq!(&row[..3], [0, 100, 200]);
        assert_eq!(&row[6..9], [100, 100, 100]);
        assert_eq!(&row[12..15], [200, 100, 0]);
        assert!(pixels.chunks(info.line_size).all(|r| r == row));
        let one = gradient_png(1, 1, [7, 8, 9], [0, 0, 0]);
        assert_eq!(imagesize::blob_size(&one).unwrap().width, 1);
    }
}
