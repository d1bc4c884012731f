//! The request checks' tests: parsing untrusted JSON, value rules, preparing frames.
use super::*;
use crate::sample::gradient_png;
use base64::Engine as _;
use serde_json::json;

fn png_b64(w: u32, h: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(gradient_png(w, h, [0, 0, 0], [9, 9, 9]))
}

#[test]
fn a_minimal_request_parses_with_defaults() {
    let r = parse_request(&json!({"image": "https://x.test/a.png", "last_image": "https://x.test/b.png", "prompt": "dolly in"})).unwrap();
    assert_eq!(
        r,
        TransitionRequest::new("https://x.test/a.png", "https://x.test/b.png", "dolly in")
    );
}

#[test]
fn every_field_parses() {
    let r = parse_request(&json!({
        "model": "veo-3.1-lite", "image": "https://x.test/a.png", "last_image": "https://x.test/b.png",
        "prompt": "p", "seed": 4294967295u64, "resolution": "1080p", "aspect_ratio": "9:16",
        "sample_count": 4, "enhance_prompt": false, "generate_audio": true,
        "negative_prompt": "blur", "duration_seconds": 6, "person_generation": "dont_allow"
    }))
    .unwrap();
    assert_eq!(r.model, Model::Veo31Lite);
    assert_eq!(r.seed, Some(u32::MAX));
    assert_eq!(r.resolution, Resolution::P1080);
    assert_eq!(r.aspect_ratio, AspectRatio::Portrait);
    assert_eq!(r.sample_count, 4);
    assert!(!r.enhance_prompt);
    assert!(r.generate_audio);
    assert_eq!(r.negative_prompt.as_deref(), Some("blur"));
    assert_eq!(r.duration_seconds, DurationSeconds::Seconds6);
    assert_eq!(r.person_generation, PersonGeneration::DontAllow);
}

#[test]
fn all_problems_are_reported_at_once_with_field_and_value() {
    let e = parse_request(&json!({
        "image": 5, "prompt": "  ", "seed": -1, "resolution": "4k", "aspect_ratio": "1:1",
        "sample_count": 5, "enhance_prompt": "yes", "duration_seconds": 5,
        "person_generation": "everyone", "model": "veo-2", "duration": 8
    }))
    .unwrap_err();
    let by_field = |f: &str| {
        e.problems
            .iter()
            .find(|p| p.field == f)
            .unwrap_or_else(|| panic!("no problem for {f}: {e}"))
    };
    assert_eq!(by_field("image").message, "must be a string");
    assert_eq!(by_field("last_image").message, "is required");
    assert!(by_field("prompt").message.contains("must not be empty"));
    assert_eq!(by_field("seed").value, "-1");
    assert!(by_field("seed").message.contains("0 to 4294967295"));
    assert!(
        by_field("resolution")
            .message
            .contains("\"720p\" or \"1080p\"")
    );
    assert_eq!(by_field("resolution").value, "\"4k\"");
    assert!(by_field("aspect_ratio").message.contains("16:9"));
    assert_eq!(by_field("sample_count").value, "5");
    assert!(by_field("sample_count").message.contains("1 to 4"));
    assert!(by_field("enhance_prompt").message.contains("true or false"));
    assert!(by_field("duration_seconds").message.contains("4, 6 or 8"));
    assert!(
        by_field("person_generation")
            .message
            .contains("allow_adult")
    );
    assert!(by_field("model").message.contains("veo-3.1-fast"));
    assert!(
        by_field("duration")
            .message
            .contains("did you mean \"duration_seconds\"")
    );
    assert_eq!(e.problems.len(), 12, "{e}");
}

#[test]
fn no_silent_clamping_or_coercion() {
    for (field, value) in [
        ("seed", json!(4294967296u64)),
        ("seed", json!(1.5)),
        ("seed", json!("42")),
        ("sample_count", json!(0)),
        ("duration_seconds", json!("8")),
        ("resolution", json!("1080P")),
    ] {
        let mut args = json!({"image": "https://x.test/a.png", "last_image": "https://x.test/b.png", "prompt": "p"});
        args[field] = value.clone();
        let e = parse_request(&args).unwrap_err();
        assert_eq!(e.problems.len(), 1, "{field}={value}: {e}");
        assert_eq!(e.problems[0].field, field);
    }
}

#[test]
fn nulls_mean_absent_and_non_objects_are_refused() {
    let r = parse_request(&json!({"image": "https://x.test/a.png", "last_image": "https://x.test/b.png", "prompt": "p", "seed": null, "negative_prompt": null})).unwrap();
    assert_eq!(r.seed, None);
    let e = parse_request(&json!(["image"])).unwrap_err();
    assert_eq!(e.problems[0].field, "arguments");
}

#[test]
fn closed_set_rules_list_every_value() {
    let e = parse_request(&json!({
        "image": "https://x.test/a.png", "last_image": "https://x.test/b.png", "prompt": "p",
        "model": "veo-2", "resolution": "4k", "aspect_ratio": "1:1",
        "duration_seconds": 5, "person_generation": "everyone"
    }))
    .unwrap_err();
    let shown: Vec<String> = e.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        shown,
        [
            r#"model (got "veo-2"): must be one of "veo-3.1", "veo-3.1-fast", "veo-3.1-lite""#,
            r#"resolution (got "4k"): must be "720p" or "1080p""#,
            r#"aspect_ratio (got "1:1"): must be "16:9" (landscape) or "9:16" (portrait)"#,
            "duration_seconds (got 5): must be 4, 6 or 8 (seconds)",
            r#"person_generation (got "everyone"): must be "allow_adult", "dont_allow" or "allow_all""#,
        ]
    );
}

#[test]
fn task_ids_are_checked_and_trimmed() {
    assert_eq!(task_id(" abc-123_x.y "), Ok("abc-123_x.y"));
    assert_eq!(task_id("x:y"), Ok("x:y"));
    assert!(is_task_id(&"a".repeat(200)));
    for hostile in [
        "../etc/passwd",
        "",
        "   ",
        "a b",
        "a/b",
        "a?b=c",
        "a\nb",
        "é",
        &"a".repeat(201),
    ] {
        assert!(!is_task_id(hostile.trim()), "{hostile:?}");
        let problem = task_id(hostile).unwrap_err();
        assert_eq!(problem.field, "task_id");
        assert_eq!(
            problem.message,
            "must be a task id as the platform returned it (letters, digits, '-', '_', '.', ':', at most 200 characters)"
        );
    }
    assert_eq!(
        task_id("../etc/passwd").unwrap_err().value,
        "\"../etc/passwd\""
    );
    assert_eq!(task_id("").unwrap_err().value, "\"\"");
}

#[test]
fn prompt_length_is_bounded() {
    let mut r = TransitionRequest::new("a", "b", "x".repeat(MAX_PROMPT_CHARS + 1));
    r.negative_prompt = Some("y".repeat(MAX_PROMPT_CHARS + 1));
    let problems = check(&r);
    assert_eq!(problems.len(), 2);
    assert!(problems[0].message.contains("at most 5000"));
}

#[tokio::test]
async fn prepare_reports_field_rules_and_both_frames_together() {
    let mut r = TransitionRequest::new("ftp://x/a.png", "data:image/png;base64,!!!!", "p");
    r.sample_count = 9;
    let e = prepare(r, &ImagePolicy::default()).await.unwrap_err();
    let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["image", "last_image", "sample_count"]);
}

#[tokio::test]
async fn prepare_json_reports_field_and_frame_problems_together() {
    let e = prepare_json(
        &json!({"image": "ftp://x/a.png", "last_image": png_b64(4, 4), "prompt": "", "seed": -1}),
        &ImagePolicy::default(),
    )
    .await
    .unwrap_err();
    let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["image", "prompt", "seed"], "{e}");
    let ok = prepare_json(
        &json!({"image": png_b64(4, 4), "last_image": png_b64(4, 4), "prompt": "p"}),
        &ImagePolicy::default(),
    )
    .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn prepare_warns_about_mismatched_aspect_ratios() {
    let r = TransitionRequest::new(png_b64(160, 90), png_b64(90, 160), "turn");
    let prepared = prepare(r, &ImagePolicy::default()).await.unwrap();
    assert_eq!(prepared.warnings.len(), 2, "{:?}", prepared.warnings);
    assert!(prepared.warnings[0].contains("different aspect ratios"));
    assert!(prepared.warnings[1].contains("last frame (90×160) is not 16:9"));

    let r = TransitionRequest::new(png_b64(160, 90), png_b64(320, 180), "turn");
    assert!(
        prepare(r, &ImagePolicy::default())
            .await
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn parse_request_from_moves_the_strings_and_gives_them_back_when_refused() {
    let given = json!({"image": "https://x.test/a.png", "last_image": "https://x.test/b.png",
                       "prompt": "dolly in", "seed": 7});
    let Value::Object(mut args) = given.clone() else {
        unreachable!()
    };
    let r = parse_request_from(&mut args).unwrap();
    assert_eq!(
        (r.image.as_str(), r.last_image.as_str(), r.prompt.as_str()),
        ("https://x.test/a.png", "https://x.test/b.png", "dolly in")
    );
    // Moved, not copied: the arguments keep empty strings.
    assert_eq!(args["image"], "");
    assert_eq!(args["prompt"], "");

    let refused = json!({"image": "https://x.test/a.png", "last_image": "https://x.test/b.png",
                         "prompt": "dolly in", "seed": -1, "extra": true});
    let Value::Object(mut args) = refused.clone() else {
        unreachable!()
    };
    let e = parse_request_from(&mut args).unwrap_err();
    assert_eq!(e, parse_request(&refused).unwrap_err());
    assert_eq!(Value::Object(args), refused);
}
