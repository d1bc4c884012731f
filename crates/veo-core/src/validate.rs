//! Validation: every rule of the spec, checked before anything leaves the machine.
//!
//! [`parse_request`] reads untrusted JSON (tool arguments) field by field so that *all* problems
//! are reported at once, wrong types and unknown fields included. [`check`] applies the value
//! rules to a typed request. [`prepare`] runs both rules and frame loading and yields a
//! [`PreparedRequest`], the only thing the client will send.

use serde_json::{Map, Value};

use crate::error::{InvalidInput, Problem};
use crate::image::{Frame, ImagePolicy, load_frame};
use crate::request::{
    AspectRatio, DurationSeconds, MAX_PROMPT_CHARS, MAX_SAMPLE_COUNT, Model, PersonGeneration,
    Resolution, TransitionRequest,
};

/// A request whose every field and frame has been checked; ready to encode and send.
#[derive(Clone, Debug)]
pub struct PreparedRequest {
    /// The request as given (frames still as the caller wrote them).
    pub request: TransitionRequest,
    /// The first frame, loaded and checked.
    pub first_frame: Frame,
    /// The last frame, loaded and checked.
    pub last_frame: Frame,
    /// Things worth telling the caller that do not stop the request.
    pub warnings: Vec<String>,
}

/// Parses tool arguments into a request, reporting every problem at once.
pub fn parse_request(args: &Value) -> Result<TransitionRequest, InvalidInput> {
    let Some(obj) = args.as_object() else {
        return Err(InvalidInput {
            problems: vec![Problem::new(
                "arguments",
                type_name(args),
                "must be a JSON object with at least image, last_image and prompt",
            )],
        });
    };
    parse_object(obj)
}

fn parse_object(obj: &Map<String, Value>) -> Result<TransitionRequest, InvalidInput> {
    let mut problems = Vec::new();
    for key in obj.keys() {
        if !TransitionRequest::FIELDS.contains(&key.as_str()) {
            problems.push(Problem::new(key, "", unknown_field_message(key)));
        }
    }
    let field = |name: &str| obj.get(name).filter(|v| !v.is_null());

    let mut request = TransitionRequest::new("", "", "");
    let required_string = |name: &str, problems: &mut Vec<Problem>| match field(name) {
        None => {
            problems.push(Problem::new(name, "", "is required"));
            String::new()
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            problems.push(Problem::new(name, type_name(other), "must be a string"));
            String::new()
        }
    };
    request.image = required_string("image", &mut problems);
    request.last_image = required_string("last_image", &mut problems);
    request.prompt = required_string("prompt", &mut problems);

    if let Some(v) = field("model") {
        match v.as_str().and_then(Model::from_name) {
            Some(m) => request.model = m,
            None => problems.push(Problem::new(
                "model",
                show(v),
                "must be one of \"veo-3.1\", \"veo-3.1-fast\", \"veo-3.1-lite\"",
            )),
        }
    }
    if let Some(v) = field("seed") {
        match as_integer(v).and_then(|n| u32::try_from(n).ok()) {
            Some(n) => request.seed = Some(n),
            None => problems.push(Problem::new(
                "seed",
                show(v),
                "must be an integer from 0 to 4294967295, or omitted for a random seed",
            )),
        }
    }
    if let Some(v) = field("resolution") {
        match from_enum::<Resolution>(v) {
            Some(r) => request.resolution = r,
            None => problems.push(Problem::new(
                "resolution",
                show(v),
                "must be \"720p\" or \"1080p\"",
            )),
        }
    }
    if let Some(v) = field("aspect_ratio") {
        match from_enum::<AspectRatio>(v) {
            Some(a) => request.aspect_ratio = a,
            None => problems.push(Problem::new(
                "aspect_ratio",
                show(v),
                "must be \"16:9\" (landscape) or \"9:16\" (portrait)",
            )),
        }
    }
    if let Some(v) = field("sample_count") {
        match as_integer(v) {
            Some(n) if (1..=i128::from(MAX_SAMPLE_COUNT)).contains(&n) => {
                request.sample_count = n as u8
            }
            _ => problems.push(Problem::new("sample_count", show(v), sample_count_rule())),
        }
    }
    for (name, slot) in [
        ("enhance_prompt", &mut request.enhance_prompt),
        ("generate_audio", &mut request.generate_audio),
    ] {
        if let Some(v) = field(name) {
            match v.as_bool() {
                Some(b) => *slot = b,
                None => problems.push(Problem::new(name, show(v), "must be true or false")),
            }
        }
    }
    if let Some(v) = field("negative_prompt") {
        match v.as_str() {
            Some(s) => request.negative_prompt = Some(s.to_string()),
            None => problems.push(Problem::new("negative_prompt", show(v), "must be a string")),
        }
    }
    if let Some(v) = field("duration_seconds") {
        match as_integer(v)
            .and_then(|n| u64::try_from(n).ok())
            .and_then(DurationSeconds::from_seconds)
        {
            Some(d) => request.duration_seconds = d,
            None => problems.push(Problem::new(
                "duration_seconds",
                show(v),
                "must be 4, 6 or 8 (seconds)",
            )),
        }
    }
    if let Some(v) = field("person_generation") {
        match from_enum::<PersonGeneration>(v) {
            Some(p) => request.person_generation = p,
            None => problems.push(Problem::new(
                "person_generation",
                show(v),
                "must be \"allow_adult\", \"dont_allow\" or \"allow_all\"",
            )),
        }
    }

    // Value rules, for the fields that parsed (skip those already reported).
    let reported: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
    problems.extend(
        check(&request)
            .into_iter()
            .filter(|p| !reported.contains(&p.field)),
    );
    order_by_field(&mut problems);
    if problems.is_empty() {
        Ok(request)
    } else {
        Err(InvalidInput { problems })
    }
}

fn sample_count_rule() -> String {
    format!("must be an integer from 1 to {MAX_SAMPLE_COUNT} (each video is billed)")
}

/// The value rules of a typed request (frames are checked by [`prepare`]).
pub fn check(request: &TransitionRequest) -> Vec<Problem> {
    let mut problems = Vec::new();
    let prompt_chars = request.prompt.chars().count();
    if request.prompt.trim().is_empty() {
        problems.push(Problem::new(
            "prompt",
            "",
            "must not be empty: describe what happens between the first and the last frame",
        ));
    } else if prompt_chars > MAX_PROMPT_CHARS {
        problems.push(Problem::new(
            "prompt",
            format!("{prompt_chars} characters"),
            format!("must be at most {MAX_PROMPT_CHARS} characters"),
        ));
    }
    if let Some(negative) = &request.negative_prompt {
        let chars = negative.chars().count();
        if chars > MAX_PROMPT_CHARS {
            problems.push(Problem::new(
                "negative_prompt",
                format!("{chars} characters"),
                format!("must be at most {MAX_PROMPT_CHARS} characters"),
            ));
        }
    }
    if !(1..=MAX_SAMPLE_COUNT).contains(&request.sample_count) {
        problems.push(Problem::new(
            "sample_count",
            request.sample_count,
            sample_count_rule(),
        ));
    }
    for (name, value) in [
        ("image", &request.image),
        ("last_image", &request.last_image),
    ] {
        if value.trim().is_empty() {
            problems.push(Problem::new(name, "", "is required: an http(s) URL, a local file path, a data URL or Base64 of a JPEG or PNG"));
        }
    }
    problems
}

/// Checks a request completely, loads and checks both frames, and yields what the client sends.
pub async fn prepare(
    request: TransitionRequest,
    policy: &ImagePolicy,
) -> Result<PreparedRequest, InvalidInput> {
    let mut problems = check(&request);
    let load = |field: &'static str, input: &str| {
        let skip = problems.iter().any(|p| p.field == field);
        let input = input.to_string();
        let policy = policy.clone();
        async move {
            if skip {
                return None;
            }
            Some(
                load_frame(&input, &policy)
                    .await
                    .map_err(|message| Problem::new(field, &input, message)),
            )
        }
    };
    let (first, last) = tokio::join!(
        load("image", &request.image),
        load("last_image", &request.last_image)
    );
    let first = match first {
        Some(Ok(f)) => Some(f),
        Some(Err(p)) => {
            problems.push(p);
            None
        }
        None => None,
    };
    let last = match last {
        Some(Ok(f)) => Some(f),
        Some(Err(p)) => {
            problems.push(p);
            None
        }
        None => None,
    };
    order_by_field(&mut problems);
    match (first, last) {
        (Some(first_frame), Some(last_frame)) if problems.is_empty() => {
            let warnings = aspect_warnings(&request, &first_frame, &last_frame);
            Ok(PreparedRequest {
                request,
                first_frame,
                last_frame,
                warnings,
            })
        }
        _ => Err(InvalidInput { problems }),
    }
}

/// Parses tool arguments and prepares the request in one step: problems with fields and with
/// frames are all reported together.
pub async fn prepare_json(
    args: &Value,
    policy: &ImagePolicy,
) -> Result<PreparedRequest, InvalidInput> {
    match parse_request(args) {
        Ok(request) => prepare(request, policy).await,
        Err(mut invalid) => {
            // Still check the frames that parsed, so the caller can fix everything in one go.
            for field in ["image", "last_image"] {
                let already = invalid.problems.iter().any(|p| p.field == field);
                if let (false, Some(input)) = (already, args.get(field).and_then(Value::as_str))
                    && let Err(message) = load_frame(input, policy).await
                {
                    invalid.problems.push(Problem::new(field, input, message));
                }
            }
            order_by_field(&mut invalid.problems);
            Err(invalid)
        }
    }
}

/// Relative difference in aspect ratio above which a warning is given.
const ASPECT_TOLERANCE: f64 = 0.03;

fn aspect_warnings(request: &TransitionRequest, first: &Frame, last: &Frame) -> Vec<String> {
    let mut warnings = Vec::new();
    let ratio = |f: &Frame| {
        f.dimensions
            .filter(|(w, h)| *w > 0 && *h > 0)
            .map(|(w, h)| f64::from(w) / f64::from(h))
    };
    let differs = |a: f64, b: f64| (a / b - 1.0).abs() > ASPECT_TOLERANCE;
    let wanted = request.aspect_ratio.ratio();
    let wanted_name = match request.aspect_ratio {
        AspectRatio::Landscape => "16:9",
        AspectRatio::Portrait => "9:16",
    };
    let dims = |f: &Frame| {
        f.dimensions
            .map(|(w, h)| format!("{w}×{h}"))
            .unwrap_or_default()
    };
    if let (Some(a), Some(b)) = (ratio(first), ratio(last))
        && differs(a, b)
    {
        warnings.push(format!(
            "the first frame ({}) and the last frame ({}) have different aspect ratios; the transition may stretch or crop",
            dims(first),
            dims(last)
        ));
    }
    for (name, frame) in [("first", first), ("last", last)] {
        if let Some(r) = ratio(frame)
            && differs(r, wanted)
        {
            warnings.push(format!(
                "the {name} frame ({}) is not {wanted_name} as requested by aspect_ratio; it will be cropped or padded",
                dims(frame)
            ));
        }
    }
    warnings
}

fn order_by_field(problems: &mut [Problem]) {
    let rank = |f: &str| {
        TransitionRequest::FIELDS
            .iter()
            .position(|k| *k == f)
            .unwrap_or(usize::MAX)
    };
    problems.sort_by_key(|p| rank(&p.field));
}

fn unknown_field_message(key: &str) -> String {
    let normalized: String = key
        .chars()
        .flat_map(|c| {
            if c.is_ascii_uppercase() {
                vec!['_', c.to_ascii_lowercase()]
            } else {
                vec![if c == '-' { '_' } else { c }]
            }
        })
        .collect();
    let suggestion = match normalized.as_str() {
        "duration" | "length" | "seconds" => Some("duration_seconds"),
        "last_frame_image" | "last_frame" | "end_image" | "end_frame" | "final_image" => {
            Some("last_image")
        }
        "first_image" | "first_frame" | "start_image" | "start_frame" | "first_frame_image" => {
            Some("image")
        }
        "ratio" | "aspect" => Some("aspect_ratio"),
        "samples" | "count" | "n" | "num_videos" | "number_of_videos" => Some("sample_count"),
        "audio" => Some("generate_audio"),
        other if TransitionRequest::FIELDS.contains(&other) => TransitionRequest::FIELDS
            .iter()
            .copied()
            .find(|f| *f == other),
        _ => None,
    };
    match suggestion {
        Some(s) => format!("is not a known field; did you mean \"{s}\"?"),
        None => format!(
            "is not a known field; the fields are: {}",
            TransitionRequest::FIELDS.join(", ")
        ),
    }
}

fn as_integer(v: &Value) -> Option<i128> {
    if let Some(n) = v.as_u64() {
        return Some(i128::from(n));
    }
    if let Some(n) = v.as_i64() {
        return Some(i128::from(n));
    }
    v.as_f64()
        .filter(|f| f.fract() == 0.0 && f.abs() < 1e18)
        .map(|f| f as i128)
}

fn from_enum<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
    v.is_string()
        .then(|| serde_json::from_value(v.clone()).ok())
        .flatten()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
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
        let e = prepare_json(&json!({"image": "ftp://x/a.png", "last_image": png_b64(4, 4), "prompt": "", "seed": -1}), &ImagePolicy::default())
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
}
