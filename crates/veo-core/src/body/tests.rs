//! The request body's tests: encoding, lengths, fingerprints.
use super::*;
use crate::image::ImagePolicy;
use crate::request::{Model, TransitionRequest};
use crate::sample::gradient_png;
use crate::validate::prepare;
use serde_json::json;

fn png(seed: u8) -> Vec<u8> {
    gradient_png(16, 9, [seed, 0, 0], [0, seed, 0])
}

async fn body_for(request: TransitionRequest) -> (Value, RequestBody) {
    let prepared = prepare(request, &ImagePolicy::default()).await.unwrap();
    let body = encode(&prepared);
    let bytes = body.to_bytes().await.unwrap();
    assert_eq!(
        bytes.len() as u64,
        body.content_length(),
        "declared length must match"
    );
    (serde_json::from_slice(&bytes).unwrap(), body)
}

fn full_request(model: Model, first: &[u8], last: &[u8]) -> TransitionRequest {
    TransitionRequest {
        model,
        image: format!("data:image/png;base64,{}", STANDARD.encode(first)),
        last_image: STANDARD.encode(last),
        prompt: "the sun sets \"slowly\"".into(),
        seed: Some(42),
        resolution: Resolution::P1080,
        aspect_ratio: AspectRatio::Landscape,
        sample_count: 2,
        enhance_prompt: true,
        generate_audio: true,
        negative_prompt: Some("text, watermark".into()),
        duration_seconds: DurationSeconds::Seconds6,
        person_generation: PersonGeneration::DontAllow,
    }
}

#[tokio::test]
async fn golden_body_for_veo_3_1_and_fast() {
    let (first, last) = (png(200), png(100));
    for model in [Model::Veo31, Model::Veo31Fast] {
        let (body, _) = body_for(full_request(model, &first, &last)).await;
        assert_eq!(
            body,
            json!({
                "image": STANDARD.encode(&first),
                "last_image": STANDARD.encode(&last),
                "prompt": "the sun sets \"slowly\"",
                "seed": 42,
                "resolution": "1080p",
                "aspect_ratio": "16:9",
                "sample_count": 2,
                "enhance_prompt": true,
                "generate_audio": true,
                "negative_prompt": "text, watermark",
                "duration_seconds": 6,
                "person_generation": "dont_allow"
            })
        );
    }
}

#[tokio::test]
async fn golden_body_for_lite_uses_its_own_names() {
    let (first, last) = (png(200), png(100));
    let (body, _) = body_for(full_request(Model::Veo31Lite, &first, &last)).await;
    assert_eq!(
        body,
        json!({
            "image": STANDARD.encode(&first),
            "last_frame_image": STANDARD.encode(&last),
            "prompt": "the sun sets \"slowly\"",
            "seed": 42,
            "resolution": "1080p",
            "aspect_ratio": "16:9",
            "sample_count": 2,
            "enhance_prompt": true,
            "generate_audio": true,
            "negative_prompt": "text, watermark",
            "duration": 6,
            "person_generation": "dont_allow"
        })
    );
}

#[tokio::test]
async fn exact_bytes_of_a_minimal_url_request() {
    let prepared = prepare(
        TransitionRequest::new("https://x.test/a.png", "https://x.test/b.png", "go"),
        &ImagePolicy::default(),
    )
    .await
    .unwrap();
    let bytes = encode(&prepared).to_bytes().await.unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        r#"{"image":"https://x.test/a.png","last_image":"https://x.test/b.png","aspect_ratio":"16:9","duration_seconds":8,"enhance_prompt":true,"generate_audio":false,"person_generation":"allow_adult","prompt":"go","resolution":"720p","sample_count":1}"#
    );
}

#[tokio::test]
async fn files_stream_in_chunks_and_match_their_base64() {
    let dir = tempfile::tempdir().unwrap();
    // Larger than several chunks, and not a multiple of 3.
    let first = gradient_png(300, 200, [1, 2, 3], [250, 250, 250]);
    let path = dir.path().join("first.png");
    std::fs::write(&path, &first).unwrap();
    let policy = ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };
    let last = png(7);
    let request = TransitionRequest::new(path.to_str().unwrap(), STANDARD.encode(&last), "p");
    let prepared = prepare(request, &policy).await.unwrap();
    let body = encode(&prepared);
    let chunks: Vec<Bytes> = body.stream().map(|c| c.unwrap()).collect().await;
    assert!(chunks.len() > 4, "the file is sent in several chunks");
    let bytes: Vec<u8> = chunks.concat();
    assert_eq!(bytes.len() as u64, body.content_length());
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["image"], STANDARD.encode(&first));
    assert_eq!(value["last_image"], STANDARD.encode(&last));
}

#[tokio::test]
async fn a_file_that_changes_before_sending_fails_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.png");
    std::fs::write(&path, png(1)).unwrap();
    let policy = ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };
    let request = TransitionRequest::new(path.to_str().unwrap(), path.to_str().unwrap(), "p");
    let prepared = prepare(request, &policy).await.unwrap();
    std::fs::write(&path, gradient_png(64, 64, [0, 0, 0], [1, 1, 1])).unwrap();
    let e = encode(&prepared).to_bytes().await.unwrap_err();
    assert!(
        e.to_string().contains("changed while it was being sent"),
        "{e}"
    );
}

#[tokio::test]
async fn fingerprints_follow_content_not_form() {
    let dir = tempfile::tempdir().unwrap();
    let (first, last) = (png(9), png(10));
    let path = dir.path().join("first.png");
    std::fs::write(&path, &first).unwrap();
    let policy = ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };
    let fingerprint = |request: TransitionRequest| {
        let policy = policy.clone();
        async move {
            let prepared = prepare(request, &policy).await.unwrap();
            encode(&prepared)
                .fingerprint(prepared.request.model.endpoint_path())
                .await
                .unwrap()
        }
    };
    let from_file = TransitionRequest::new(path.to_str().unwrap(), STANDARD.encode(&last), "a fox");
    let from_base64 =
        TransitionRequest::new(STANDARD.encode(&first), STANDARD.encode(&last), "a fox");
    let a = fingerprint(from_file.clone()).await;
    assert_eq!(a.len(), 64);
    assert_eq!(a, fingerprint(from_file.clone()).await, "stable");
    assert_eq!(a, fingerprint(from_base64).await, "same bytes, same video");
    let mut other_prompt = from_file.clone();
    other_prompt.prompt = "a wolf".into();
    assert_ne!(a, fingerprint(other_prompt).await);
    let mut other_model = from_file.clone();
    other_model.model = Model::Veo31Fast;
    assert_ne!(a, fingerprint(other_model).await);
    let mut other_seed = from_file.clone();
    other_seed.seed = Some(1);
    assert_ne!(a, fingerprint(other_seed).await);
    std::fs::write(&path, png(11)).unwrap();
    let changed = TransitionRequest::new(path.to_str().unwrap(), STANDARD.encode(&last), "a fox");
    assert_ne!(
        a,
        fingerprint(changed).await,
        "other image bytes, other video"
    );
}

#[tokio::test]
async fn base64_in_any_accepted_form_gives_the_canonical_body() {
    // 16×9 PNGs of three lengths modulo 3, so padding of 0, 1 and 2 characters is covered.
    for (w, h) in [(16, 9), (17, 9), (18, 9)] {
        let first = gradient_png(w, h, [1, 2, 3], [4, 5, 6]);
        let canonical = STANDARD.encode(&first);
        let unpadded = canonical.trim_end_matches('=').to_string();
        let url_safe = canonical.replace('+', "-").replace('/', "_");
        let wrapped: String = canonical
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap().to_string() + "\r\n")
            .collect();
        let data_url = format!("data:image/png;base64,{canonical}");
        for form in [&canonical, &unpadded, &url_safe, &wrapped, &data_url] {
            let (body, _) = body_for(TransitionRequest::new(
                form.as_str(),
                canonical.as_str(),
                "p",
            ))
            .await;
            assert_eq!(body["image"], canonical, "{w}×{h}: {form:?}");
            assert_eq!(body["last_image"], canonical);
        }
    }
}

#[tokio::test]
async fn canonical_base64_is_sent_as_given_and_the_rest_is_reencoded() {
    let bytes = png(3);
    let canonical = STANDARD.encode(&bytes);
    let kept = |request: TransitionRequest| {
        let bytes = bytes.clone();
        async move {
            let prepared = prepare(request, &ImagePolicy::default()).await.unwrap();
            match prepared.first_frame.payload {
                FramePayload::Bytes { raw, base64 } => {
                    assert_eq!(raw, bytes.as_slice());
                    base64
                }
                other => panic!("{other:?}"),
            }
        }
    };
    let given = kept(TransitionRequest::new(
        canonical.as_str(),
        canonical.as_str(),
        "p",
    ))
    .await;
    assert_eq!(given.as_deref(), Some(canonical.as_bytes()));
    let unpadded = canonical.trim_end_matches('=');
    assert_ne!(unpadded, canonical, "the test needs padding");
    assert_eq!(
        kept(TransitionRequest::new(unpadded, canonical.as_str(), "p")).await,
        None
    );
    // Non-zero bits after the last byte decode (leniently) but are not canonical: with
    // padding, the last character's index in the alphabet is a multiple of 4; the next one
    // sets a trailing bit.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut trailing = canonical.clone().into_bytes();
    let last = trailing.iter().rposition(|b| *b != b'=').unwrap();
    let index = ALPHABET.iter().position(|c| *c == trailing[last]).unwrap();
    assert_eq!(index % 4, 0);
    trailing[last] = ALPHABET[index + 1];
    let trailing = String::from_utf8(trailing).unwrap();
    assert_eq!(
        kept(TransitionRequest::new(
            trailing.as_str(),
            canonical.as_str(),
            "p"
        ))
        .await,
        None
    );
}

#[tokio::test]
async fn fingerprints_do_not_depend_on_the_base64_spelling() {
    let (first, last) = (png(20), png(21));
    let canonical = STANDARD.encode(&first);
    let fingerprint = |image: String| {
        let last = STANDARD.encode(&last);
        async move {
            let prepared = prepare(
                TransitionRequest::new(image, last, "p"),
                &ImagePolicy::default(),
            )
            .await
            .unwrap();
            prepared.fingerprint().await.unwrap()
        }
    };
    let a = fingerprint(canonical.clone()).await;
    for form in [
        canonical.trim_end_matches('=').to_string(),
        canonical.replace('+', "-").replace('/', "_"),
        format!("data:image/png;base64,{canonical}"),
        format!("{}\n{}", &canonical[..40], &canonical[40..]),
    ] {
        assert_eq!(a, fingerprint(form).await);
    }
    assert_ne!(a, fingerprint(STANDARD.encode(png(22))).await);
}

#[tokio::test]
async fn large_frames_fingerprint_like_small_ones() {
    // Above HASH_INLINE_MAX, in memory and as a file: the digest is computed elsewhere but
    // the same way.
    let dir = tempfile::tempdir().unwrap();
    let big = gradient_png(300, 300, [1, 1, 1], [2, 2, 2]);
    assert!(big.len() > HASH_INLINE_MAX);
    let path = dir.path().join("big.png");
    std::fs::write(&path, &big).unwrap();
    let policy = ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };
    let last = STANDARD.encode(png(1));
    let mut fingerprints = Vec::new();
    for image in [path.to_str().unwrap().to_string(), STANDARD.encode(&big)] {
        let prepared = prepare(TransitionRequest::new(image, last.as_str(), "p"), &policy)
            .await
            .unwrap();
        fingerprints.push(prepared.fingerprint().await.unwrap());
    }
    assert_eq!(fingerprints[0], fingerprints[1]);
    // A file that changed length since it was checked is refused.
    let prepared = prepare(
        TransitionRequest::new(path.to_str().unwrap(), last.as_str(), "p"),
        &policy,
    )
    .await
    .unwrap();
    std::fs::write(&path, png(1)).unwrap();
    let e = prepared.fingerprint().await.unwrap_err();
    assert!(e.to_string().contains("changed while being read"), "{e}");
}

#[test]
fn hex_is_lower_case_and_two_digits_a_byte() {
    assert_eq!(hex(&[0x00, 0xab, 0x0f, 0xf0]), "00ab0ff0");
    assert_eq!(hex(&[]), "");
}

#[tokio::test]
async fn a_small_body_in_one_buffer_is_the_streamed_body() {
    let (first, last) = (png(5), png(6));
    let canonical = STANDARD.encode(&first);
    // Canonical (sent as given) and unpadded (re-encoded) frames.
    let request = TransitionRequest::new(
        canonical.as_str(),
        STANDARD.encode(&last).trim_end_matches('='),
        "p",
    );
    let prepared = prepare(request, &ImagePolicy::default()).await.unwrap();
    let body = encode(&prepared);
    let one = body.small_in_memory().expect("small and in memory");
    assert_eq!(one.len() as u64, body.content_length());
    assert_eq!(one.as_ref(), body.to_bytes().await.unwrap().as_slice());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.png");
    std::fs::write(&path, &first).unwrap();
    let policy = ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };
    let with_file = TransitionRequest::new(path.to_str().unwrap(), canonical.as_str(), "p");
    let prepared = prepare(with_file, &policy).await.unwrap();
    assert!(
        encode(&prepared).small_in_memory().is_none(),
        "files are streamed"
    );
}
