//! Validation: every rule of the spec, checked before anything leaves the machine.
//!
//! [`parse_request`] reads untrusted JSON (tool arguments) field by field so that *all* problems
//! are reported at once, wrong types and unknown fields included ([`parse_request_from`] does the
//! same for arguments the caller owns, moving their strings instead of copying them). [`check`]
//! applies the value rules to a typed request. [`prepare`] runs both rules and frame loading and
//! yields a [`PreparedRequest`], the only thing the client will send.

use serde_json::{Map, Value};

use crate::error::{InvalidInput, Problem};
use crate::image::{Frame, ImagePolicy, load_frame};
use crate::request::{
    AspectRatio, ClosedSet, DurationSeconds, MAX_PROMPT_CHARS, MAX_SAMPLE_COUNT, Model,
    PersonGeneration, Resolution, TransitionRequest,
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

impl PreparedRequest {
    /// The request's fingerprint: a SHA-256 (hex) of the model's endpoint and the body's content,
    /// the frames' decoded bytes included whatever form they were given in. Two requests with
    /// the same fingerprint ask for the same video. Reads file frames; fails if one can no longer
    /// be read as it was checked.
    pub async fn fingerprint(&self) -> std::io::Result<String> {
        crate::body::encode(self)
            .fingerprint(self.request.model.endpoint_path())
            .await
    }
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
    parse_object(&mut obj.clone())
}

/// [`parse_request`] for arguments the caller owns: the strings (frames can be megabytes of
/// Base64) are moved into the request, not copied. A refused request leaves `args` as it was.
pub fn parse_request_from(
    args: &mut Map<String, Value>,
) -> Result<TransitionRequest, InvalidInput> {
    parse_object(args)
}

/// The fields whose strings [`parse_object`] moves into the request.
const TAKEN: [&str; 3] = ["image", "last_image", "prompt"];

fn parse_object(obj: &mut Map<String, Value>) -> Result<TransitionRequest, InvalidInput> {
    let mut problems = Vec::new();
    for key in obj.keys() {
        if !TransitionRequest::FIELDS.contains(&key.as_str()) {
            problems.push(Problem::new(key, "", unknown_field_message(key)));
        }
    }
    let mut fields = Fields { obj, problems };

    let [image, last_image, prompt] = TAKEN.map(|name| fields.required_string(name));
    let mut request = TransitionRequest::new(image, last_image, prompt);
    fields.parse_closed("model", &mut request.model);
    fields.parse_field(
        "seed",
        &mut request.seed,
        |v| as_integer(v).and_then(|n| u32::try_from(n).ok()).map(Some),
        || "must be an integer from 0 to 4294967295, or omitted for a random seed",
    );
    fields.parse_closed("resolution", &mut request.resolution);
    fields.parse_closed("aspect_ratio", &mut request.aspect_ratio);
    fields.parse_field(
        "sample_count",
        &mut request.sample_count,
        |v| {
            as_integer(v)
                .filter(|n| (1..=i128::from(MAX_SAMPLE_COUNT)).contains(n))
                .map(|n| n as u8)
        },
        sample_count_rule,
    );
    for (name, slot) in [
        ("enhance_prompt", &mut request.enhance_prompt),
        ("generate_audio", &mut request.generate_audio),
    ] {
        fields.parse_field(name, slot, Value::as_bool, || "must be true or false");
    }
    fields.parse_field(
        "negative_prompt",
        &mut request.negative_prompt,
        |v| v.as_str().map(|s| Some(s.to_string())),
        || "must be a string",
    );
    fields.parse_closed("duration_seconds", &mut request.duration_seconds);
    fields.parse_closed("person_generation", &mut request.person_generation);
    let mut problems = fields.problems;

    // Value rules, for the fields that parsed (skip those already reported).
    let reported: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
    problems.extend(
        check(&request)
            .into_iter()
            .filter(|p| !reported.contains(&p.field)),
    );
    order_by_field(&mut problems);
    if problems.is_empty() {
        return Ok(request);
    }
    // Refused: the strings go back where they were taken from.
    let given = [request.image, request.last_image, request.prompt];
    for (name, taken) in TAKEN.into_iter().zip(given) {
        if let Some(Value::String(slot)) = obj.get_mut(name) {
            *slot = taken;
        }
    }
    Err(InvalidInput { problems })
}

/// The fields of a JSON object being parsed, and the problems found so far.
struct Fields<'a> {
    obj: &'a mut Map<String, Value>,
    problems: Vec<Problem>,
}

impl Fields<'_> {
    /// The field's value; a `null` counts as absent.
    fn get(&self, name: &str) -> Option<&Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    /// The string field `name`, moved out of the object (an empty string is left in its place).
    fn required_string(&mut self, name: &str) -> String {
        if let Some(Value::String(s)) = self.obj.get_mut(name) {
            return std::mem::take(s);
        }
        match self.get(name) {
            None => {
                self.problems.push(Problem::new(name, "", "is required"));
                String::new()
            }
            Some(other) => {
                let kind = type_name(other);
                self.problems
                    .push(Problem::new(name, kind, "must be a string"));
                String::new()
            }
        }
    }

    /// Sets `slot` from the field `name` when it is present: `parse` reads the value, and a value
    /// it refuses becomes a problem saying `rule` (made only then). An absent field leaves `slot`
    /// at its default.
    fn parse_field<T, R: Into<String>>(
        &mut self,
        name: &str,
        slot: &mut T,
        parse: impl FnOnce(&Value) -> Option<T>,
        rule: impl FnOnce() -> R,
    ) {
        if let Some(v) = self.get(name) {
            match parse(v) {
                Some(value) => *slot = value,
                None => self.problems.push(Problem::new(name, show(v), rule())),
            }
        }
    }

    /// [`Fields::parse_field`] for a closed set: the value must be one of its names, and the
    /// message lists them all.
    fn parse_closed<T: Allowed>(&mut self, name: &str, slot: &mut T) {
        self.parse_field(name, slot, T::read, T::rule);
    }
}

/// How a field of a closed set is read from JSON and how its rule lists the allowed values.
trait Allowed: ClosedSet {
    /// The value written as one of the set's names (a JSON string by default).
    fn read(v: &Value) -> Option<Self> {
        v.as_str().and_then(Self::from_name)
    }

    /// One allowed value as the rule shows it: quoted by default.
    fn shown(self) -> String {
        format!("\"{}\"", self.as_str())
    }

    /// The rule: `must be "a", "b" or "c"`.
    fn rule() -> String {
        format!("must be {}", either(Self::ALL.iter().map(|v| v.shown())))
    }
}

impl Allowed for Model {
    fn rule() -> String {
        let names: Vec<String> = Self::ALL.iter().map(|m| m.shown()).collect();
        format!("must be one of {}", names.join(", "))
    }
}

impl Allowed for Resolution {}

impl Allowed for AspectRatio {
    fn shown(self) -> String {
        let orientation = match self {
            AspectRatio::Landscape => "landscape",
            AspectRatio::Portrait => "portrait",
        };
        format!("\"{}\" ({orientation})", self.as_str())
    }
}

impl Allowed for PersonGeneration {}

impl Allowed for DurationSeconds {
    /// A JSON integer, not a string: `"8"` is refused.
    fn read(v: &Value) -> Option<Self> {
        as_integer(v)
            .and_then(|n| u64::try_from(n).ok())
            .and_then(DurationSeconds::from_seconds)
    }

    fn shown(self) -> String {
        self.as_str().to_string()
    }

    fn rule() -> String {
        format!(
            "must be {} (seconds)",
            either(Self::ALL.iter().map(|d| d.shown()))
        )
    }
}

/// `a, b or c`.
fn either(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
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

/// The longest task id accepted, in bytes.
pub const MAX_TASK_ID_LEN: usize = 200;

/// Whether `s` has the form of a task id: not empty, at most [`MAX_TASK_ID_LEN`] bytes, and only
/// ASCII letters, digits, `-`, `_`, `.` and `:`. Platform ids have this form; anything else (a
/// path, a URL, text with spaces) is refused before it reaches a URL or a file name.
pub fn is_task_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_TASK_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Checks a task id given by a caller and returns it without surrounding white space.
///
/// The problem names the field `task_id` and shows the input as given, quoted.
pub fn task_id(input: &str) -> Result<&str, Problem> {
    let id = input.trim();
    if is_task_id(id) {
        Ok(id)
    } else {
        Err(Problem::new(
            "task_id",
            format!("{input:?}"),
            "must be a task id as the platform returned it (letters, digits, '-', '_', '.', ':', at most 200 characters)",
        ))
    }
}

/// Checks a request completely, loads and checks both frames, and yields what the client sends.
pub async fn prepare(
    request: TransitionRequest,
    policy: &ImagePolicy,
) -> Result<PreparedRequest, InvalidInput> {
    let mut problems = check(&request);
    let reported = |field: &str| problems.iter().any(|p| p.field == field);
    let (first, last) = tokio::join!(
        load_field("image", &request.image, policy, reported("image")),
        load_field(
            "last_image",
            &request.last_image,
            policy,
            reported("last_image")
        )
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

/// Loads the frame of `field` unless `skip` (its problem is already reported).
async fn load_field(
    field: &'static str,
    input: &str,
    policy: &ImagePolicy,
    skip: bool,
) -> Option<Result<Frame, Problem>> {
    if skip {
        return None;
    }
    Some(
        load_frame(input, policy)
            .await
            .map_err(|message| Problem::new(field, input, message)),
    )
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
    let wanted_name = request.aspect_ratio.as_str();
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
mod tests;
