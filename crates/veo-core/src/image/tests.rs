//! The frame loader's tests: classification, decoding, sniffing, sizes, allowed roots.
use super::*;
use crate::sample::{gradient_png, jpeg_header};

fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    gradient_png(w, h, [10, 20, 30], [200, 100, 50])
}

fn jpeg_bytes(w: u16, h: u16) -> Vec<u8> {
    jpeg_header(w, h)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn classifies_every_form() {
    assert_eq!(
        classify("https://x.test/a.png"),
        Ok(FrameInput::Url("https://x.test/a.png".into()))
    );
    assert_eq!(
        classify(" HTTP://x.test/a.png "),
        Ok(FrameInput::Url("HTTP://x.test/a.png".into()))
    );
    assert_eq!(
        classify("/tmp/a.png"),
        Ok(FrameInput::File("/tmp/a.png".into()))
    );
    assert_eq!(
        classify("file:///tmp/a%20b.png"),
        Ok(FrameInput::File("/tmp/a b.png".into()))
    );
    let home = dirs::home_dir().unwrap();
    assert_eq!(
        classify("~/a.png"),
        Ok(FrameInput::File(home.join("a.png")))
    );
    let raw = b64(&png_bytes(4, 4));
    assert_eq!(classify(&raw), Ok(FrameInput::Base64(raw.clone())));
    assert_eq!(
        classify(&format!("data:image/png;base64,{raw}")),
        Ok(FrameInput::Base64(raw.clone()))
    );
    assert_eq!(
        classify("a.png"),
        Ok(FrameInput::File(
            std::env::current_dir().unwrap().join("a.png")
        ))
    );
}

#[test]
fn the_scan_sorts_every_byte_like_the_ascii_predicates() {
    for b in 0..=255u8 {
        let base64 = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_');
        let expected = (u8::from(matches!(b, b'-' | b'_')) * Scan::URL_SAFE)
            | (u8::from(b.is_ascii_whitespace()) * Scan::WHITESPACE)
            | (u8::from(!base64 && !b.is_ascii_whitespace()) * Scan::OTHER);
        assert_eq!(Scan::kind(b), expected, "byte {b}");
        assert_eq!(Scan::of(&[b'A', b, b'A']), Scan(expected), "byte {b}");
    }
    assert_eq!(Scan::of(b""), Scan(0));
    assert!(Scan::of("AAAA\n-AAA".as_bytes()).has(Scan::URL_SAFE));
    assert!(!Scan::of("AAAAé".as_bytes()).is_base64_text());
}

#[test]
fn classification_edges() {
    let cwd = std::env::current_dir().unwrap();
    let raw = b64(&png_bytes(4, 4));
    // Shorter than 64 characters: a (relative) path, even if every character is Base64.
    let short = &raw[..63];
    assert_eq!(classify(short), Ok(FrameInput::File(cwd.join(short))));
    assert_eq!(classify("ab=="), Ok(FrameInput::File(cwd.join("ab=="))));
    assert_eq!(classify("a"), Ok(FrameInput::File(cwd.join("a"))));
    // An absolute path made only of Base64 characters, 64 or more of them, is Base64: the
    // rule is the character set, as before.
    let slashes = format!("/{}", "abc/".repeat(16));
    assert_eq!(classify(&slashes), Ok(FrameInput::Base64(slashes.clone())));
    // One character outside the set (an extension's dot, anywhere) makes it a path.
    let with_dot = format!("/{}x.png", "abc/".repeat(16));
    assert_eq!(
        classify(&with_dot),
        Ok(FrameInput::File(PathBuf::from(&with_dot)))
    );
    let dot_first = format!(".{raw}");
    assert_eq!(
        classify(&dot_first),
        Ok(FrameInput::File(cwd.join(&dot_first)))
    );
    // White space inside (wrapped lines) stays Base64; around it is trimmed.
    let wrapped = format!("{}\r\n{}\n", &raw[..40], &raw[40..]);
    assert_eq!(
        classify(&format!("  {wrapped}")),
        Ok(FrameInput::Base64(wrapped.trim().to_string()))
    );
    // The URL-safe alphabet too.
    let url_safe = raw.replace('+', "-").replace('/', "_");
    assert_eq!(
        classify(&url_safe),
        Ok(FrameInput::Base64(url_safe.clone()))
    );
    // Data URLs: the type is case-insensitive, the data is taken as is.
    assert_eq!(
        classify(&format!("DATA:Image/PNG;BASE64,{raw}")),
        Ok(FrameInput::Base64(raw.clone()))
    );
    assert_eq!(
        classify("data:;base64,abcd"),
        Ok(FrameInput::Base64("abcd".into()))
    );
    assert!(
        classify("data:image/png;base64")
            .unwrap_err()
            .contains("comma")
    );
    // Schemes: only the text before the first "://", and only when it could be a scheme.
    assert!(
        classify("my-app+x://a/b.png")
            .unwrap_err()
            .contains("\"my-app+x\" is not supported")
    );
    assert_eq!(
        classify("a/b://c.png"),
        Ok(FrameInput::File(cwd.join("a/b://c.png")))
    );
    assert_eq!(
        classify("://c.png"),
        Ok(FrameInput::File(cwd.join("://c.png")))
    );
    // A non-ASCII character early on does not hide the scheme.
    assert_eq!(
        classify("https://é.test/a.png"),
        Ok(FrameInput::Url("https://é.test/a.png".into()))
    );
    // Non-ASCII text is never Base64.
    let accented = format!("{}é", "A".repeat(70));
    assert_eq!(
        classify(&accented),
        Ok(FrameInput::File(cwd.join(&accented)))
    );
}

#[tokio::test]
async fn only_canonical_base64_is_kept_for_the_body() {
    let policy = ImagePolicy::default();
    let bytes = png_bytes(5, 5);
    let raw = b64(&bytes);
    let kept = |frame: Frame| match frame.payload {
        FramePayload::Bytes {
            raw: decoded,
            base64,
        } => {
            assert_eq!(decoded, bytes.as_slice());
            base64
        }
        other => panic!("{other:?}"),
    };
    let canonical = load_frame(&raw, &policy).await.unwrap();
    assert_eq!(kept(canonical).as_deref(), Some(raw.as_bytes()));
    let data_url = load_frame(&format!("data:image/png;base64,{raw}"), &policy)
        .await
        .unwrap();
    assert_eq!(kept(data_url).as_deref(), Some(raw.as_bytes()));
    let wrapped = format!("{}\n{}", &raw[..40], &raw[40..]);
    let url_safe = raw.replace('+', "-").replace('/', "_");
    let unpadded = raw.trim_end_matches('=').to_string();
    for form in [wrapped, url_safe, unpadded] {
        let frame = load_frame(&form, &policy).await.unwrap();
        assert_eq!(frame.dimensions, Some((5, 5)));
        if form != raw {
            assert_eq!(kept(frame), None, "{form}");
        }
    }
    // Padding in the middle is refused as before, canonical-looking or not.
    let e = load_frame(&format!("{raw}{raw}"), &policy).await;
    if raw.ends_with('=') {
        assert!(e.unwrap_err().contains("not valid Base64"));
    }
}

#[tokio::test]
async fn base64_with_stray_bits_in_its_last_character_is_decoded_but_not_kept() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (bytes, raw) = (1..)
        .map(|side| {
            let bytes = png_bytes(side, side);
            let raw = b64(&bytes);
            (bytes, raw)
        })
        .find(|(_, raw)| raw.ends_with('='))
        .unwrap();
    // The last character before the padding has unused low bits: setting one changes the
    // text, not the bytes it decodes to.
    let at = raw.trim_end_matches('=').len() - 1;
    let value = ALPHABET
        .iter()
        .position(|&c| c == raw.as_bytes()[at])
        .unwrap();
    let mut stray = raw.into_bytes();
    stray[at] = ALPHABET[value ^ 1];
    let stray = String::from_utf8(stray).unwrap();
    let frame = load_frame(&stray, &ImagePolicy::default()).await.unwrap();
    match frame.payload {
        FramePayload::Bytes { raw, base64 } => {
            assert_eq!(raw, bytes.as_slice());
            assert_eq!(base64, None, "only canonical text is sent as given");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rejects_unsupported_forms_with_the_reason() {
    assert!(
        classify("ftp://x.test/a.png")
            .unwrap_err()
            .contains("\"ftp\" is not supported")
    );
    assert!(
        classify("C:\\Users\\me\\a.png")
            .unwrap_err()
            .contains("Windows path")
    );
    assert!(
        classify("data:text/plain;base64,aGk=")
            .unwrap_err()
            .contains("image/png")
    );
    assert!(
        classify("data:image/png,rawdata")
            .unwrap_err()
            .contains("Base64 data URLs")
    );
    assert!(classify("   ").unwrap_err().contains("empty"));
    assert!(classify("https://").is_err());
}

#[test]
fn only_jpeg_and_png_are_sniffed() {
    assert_eq!(ImageFormat::sniff(&png_bytes(2, 2)), Some(ImageFormat::Png));
    assert_eq!(
        ImageFormat::sniff(&jpeg_bytes(2, 2)),
        Some(ImageFormat::Jpeg)
    );
    assert_eq!(
        ImageFormat::sniff(b"GIF89a\x01\x00\x01\x00\x80\x00\x00"),
        None
    );
    assert_eq!(ImageFormat::sniff(b"hello, not an image"), None);
    assert_eq!(ImageFormat::sniff(b""), None);
}

#[tokio::test]
async fn payloads_name_their_form() {
    let policy = ImagePolicy::default();
    let url = load_frame("https://x.test/a.png", &policy).await.unwrap();
    assert_eq!(url.payload.kind(), "url");
    let bytes = load_frame(&b64(&png_bytes(4, 4)), &policy).await.unwrap();
    assert_eq!(bytes.payload.kind(), "base64");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.png");
    std::fs::write(&path, png_bytes(4, 4)).unwrap();
    let policy = ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };
    let file = load_frame(path.to_str().unwrap(), &policy).await.unwrap();
    assert_eq!(file.payload.kind(), "file");
}

#[tokio::test]
async fn base64_frames_are_sniffed_and_measured() {
    let policy = ImagePolicy::default();
    let png = load_frame(&b64(&png_bytes(64, 36)), &policy).await.unwrap();
    assert_eq!(png.format, Some(ImageFormat::Png));
    assert_eq!(png.dimensions, Some((64, 36)));
    let jpeg = load_frame(
        &format!("data:image/jpeg;base64,{}", b64(&jpeg_bytes(90, 160))),
        &policy,
    )
    .await
    .unwrap();
    assert_eq!(jpeg.format, Some(ImageFormat::Jpeg));
    assert_eq!(jpeg.dimensions, Some((90, 160)));
    // Wrapped lines and missing padding are tolerated.
    let wrapped: String = b64(&png_bytes(3, 3))
        .trim_end_matches('=')
        .as_bytes()
        .chunks(20)
        .map(|c| std::str::from_utf8(c).unwrap().to_string() + "\n")
        .collect();
    assert!(load_frame(&wrapped, &policy).await.is_ok());
}

#[tokio::test]
async fn non_images_and_wrong_formats_are_refused() {
    let policy = ImagePolicy::default();
    let gif = b64(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;");
    let gif = format!("{gif}{}", "A".repeat(0));
    let e = load_frame(&format!("data:image/gif;base64,{gif}"), &policy)
        .await
        .unwrap_err();
    assert!(e.contains("Gif"), "{e}");
    assert!(e.contains("only JPEG and PNG"), "{e}");
    // The other formats a photo comes in are named too (imagesize's features, Cargo.toml).
    let photos: [(&[u8], &str); 3] = [
        (b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00", "Webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "Heif"),
        (b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00", "Tiff"),
    ];
    for (head, name) in photos {
        let e = load_frame(&b64(&[head, &[0u8; 64]].concat()), &policy)
            .await
            .unwrap_err();
        assert!(e.contains(name) && e.contains("only JPEG and PNG"), "{e}");
    }
    let text = b64(&[b'x'; 100]);
    let e = load_frame(&text, &policy).await.unwrap_err();
    assert!(e.contains("not a JPEG or PNG"), "{e}");
    let e = load_frame(
        &format!("data:image/png;base64,{}!!", "A".repeat(80)),
        &policy,
    )
    .await
    .unwrap_err();
    assert!(e.contains("not valid Base64"), "{e}");
}

#[tokio::test]
async fn oversized_base64_is_refused_before_decoding() {
    let big = "A".repeat((MAX_IMAGE_BYTES as usize / 3 + 10) * 4);
    let e = load_frame(&big, &ImagePolicy::default()).await.unwrap_err();
    assert!(e.contains("at most 20 MB"), "{e}");
}

#[tokio::test]
async fn files_are_confined_to_allowed_roots() {
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("first.png");
    std::fs::write(&inside, png_bytes(32, 18)).unwrap();
    let policy = ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };

    let frame = load_frame(inside.to_str().unwrap(), &policy).await.unwrap();
    assert_eq!(frame.format, Some(ImageFormat::Png));
    assert_eq!(frame.dimensions, Some((32, 18)));
    assert!(
        matches!(frame.payload, FramePayload::File { len, .. } if len == png_bytes(32, 18).len() as u64)
    );

    let url = url::Url::from_file_path(&inside).unwrap().to_string();
    assert!(load_frame(&url, &policy).await.is_ok());

    let other = tempfile::tempdir().unwrap();
    let outside = other.path().join("x.png");
    std::fs::write(&outside, png_bytes(2, 2)).unwrap();
    let e = load_frame(outside.to_str().unwrap(), &policy)
        .await
        .unwrap_err();
    assert!(e.contains("outside the directories"), "{e}");

    // A symlink inside the root that points outside is still outside.
    #[cfg(unix)]
    {
        let link = dir.path().join("link.png");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let e = load_frame(link.to_str().unwrap(), &policy)
            .await
            .unwrap_err();
        assert!(e.contains("outside the directories"), "{e}");
    }

    let e = load_frame(dir.path().join("missing.png").to_str().unwrap(), &policy)
        .await
        .unwrap_err();
    assert!(
        e.contains("does not exist on the machine where veo runs"),
        "{e}"
    );
    assert!(e.contains("sandbox"), "{e}");

    let e = load_frame(dir.path().to_str().unwrap(), &policy)
        .await
        .unwrap_err();
    assert!(e.contains("is a directory"), "{e}");

    let text = dir.path().join("notes.png");
    std::fs::write(&text, "hello, not an image").unwrap();
    let e = load_frame(text.to_str().unwrap(), &policy)
        .await
        .unwrap_err();
    assert!(e.contains("not a JPEG or PNG"), "{e}");

    let huge = dir.path().join("huge.png");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(MAX_IMAGE_BYTES + 1).unwrap();
    let e = load_frame(huge.to_str().unwrap(), &policy)
        .await
        .unwrap_err();
    assert!(e.contains("at most 20 MB"), "{e}");
}

#[cfg(unix)]
#[tokio::test]
async fn unreadable_files_say_so() {
    use std::os::unix::fs::PermissionsExt;
    if running_as_root() {
        return; // root reads everything; the check cannot be exercised.
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("locked.png");
    std::fs::write(&p, png_bytes(2, 2)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    let policy = ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };
    let e = load_frame(p.to_str().unwrap(), &policy).await.unwrap_err();
    assert!(e.contains("permission denied"), "{e}");
}

#[cfg(unix)]
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn a_filesystem_root_is_never_a_default_root() {
    let policy = ImagePolicy::from_candidates([
        Some(PathBuf::from("/")),
        Some(PathBuf::from("/home/someone")),
        None,
    ]);
    assert_eq!(policy.allowed_roots, [PathBuf::from("/home/someone")]);
}

/// A PNG whose Base64 is longer than `IN_PLACE_ABOVE`: a small image and then padding bytes
/// (the header is what is sniffed and measured).
fn long_png_base64() -> String {
    let mut bytes = png_bytes(64, 36);
    bytes.resize(IN_PLACE_ABOVE, 0x5a);
    let text = b64(&bytes);
    assert!(text.len() > IN_PLACE_ABOVE);
    text
}

#[test]
fn long_base64_frames_load_on_either_runtime() {
    let text = long_png_base64();
    let policy = ImagePolicy::default();
    for multi_thread in [false, true] {
        let runtime = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread().build()
        }
        .unwrap();
        let frame = runtime.block_on(async {
            tokio::spawn({
                let (text, policy) = (text.clone(), policy.clone());
                async move { load_frame(&text, &policy).await }
            })
            .await
            .unwrap()
            .unwrap()
        });
        assert_eq!(frame.format, Some(ImageFormat::Png));
        assert_eq!(frame.dimensions, Some((64, 36)));
        assert_eq!(
            frame.payload.byte_len(),
            Some(IN_PLACE_ABOVE as u64),
            "multi_thread={multi_thread}"
        );
    }
}

#[test]
fn work_in_place_lets_the_other_tasks_of_a_one_worker_runtime_run() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let other_ran = Arc::new(AtomicBool::new(false));
    let waited = runtime.block_on(async {
        // Both tasks are queued on the one worker; the first blocks until the second has run,
        // which it can only do if the first handed the worker on.
        let blocking = tokio::spawn({
            let other_ran = other_ran.clone();
            async move {
                in_place(|| {
                    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(20);
                    while !other_ran.load(Ordering::SeqCst) {
                        if std::time::Instant::now() > give_up {
                            return false;
                        }
                        std::thread::yield_now();
                    }
                    true
                })
            }
        });
        let other = tokio::spawn({
            let other_ran = other_ran.clone();
            async move { other_ran.store(true, Ordering::SeqCst) }
        });
        let waited = blocking.await.unwrap();
        other.await.unwrap();
        waited
    });
    assert!(waited, "the other task never ran while the work went on");
}
