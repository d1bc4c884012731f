//! JSON Schemas that every MCP host accepts.
//!
//! Hosts differ in how much JSON Schema they understand; many reject `$ref`/`$defs`, integer
//! formats such as `"uint32"`, type arrays like `["string","null"]`, and `anyOf`/`oneOf`. The
//! schemas produced here are flat: everything inlined, optional fields simply not `required`,
//! enums as plain `enum` lists, defaults stated. [`host_compatibility_problems`] proves it.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The host-friendly schema of `T`, as a JSON object.
pub fn host_friendly_schema<T: JsonSchema>() -> Map<String, Value> {
    let generator = SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    simplify(&mut value);
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
        // The root description is the Rust doc of the type; a tool has its own description.
        obj.remove("description");
        obj.remove("definitions");
        obj.remove("$defs");
    }
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Rewrites a schema (in place) into the flat subset described in the module docs.
pub fn simplify(value: &mut Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };

    // anyOf/oneOf [X, {"type":"null"}] → X merged into this schema.
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(variants)) = obj.get(key) {
            let non_null: Vec<Value> = variants
                .iter()
                .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"))
                .cloned()
                .collect();
            if non_null.len() == 1
                && non_null.len() < variants.len()
                && let Value::Object(inner) = &non_null[0]
            {
                let inner = inner.clone();
                obj.remove(key);
                for (k, v) in inner {
                    obj.entry(k).or_insert(v);
                }
            }
        }
    }

    // ["string", "null"] → "string"
    if let Some(Value::Array(types)) = obj.get("type") {
        let non_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if non_null.len() == 1 {
            obj.insert("type".into(), non_null[0].clone());
        }
    }

    // An optional enum lists `null` among its values; absence already says "not given".
    if let Some(Value::Array(values)) = obj.get_mut("enum")
        && values.len() > 1
    {
        values.retain(|v| !v.is_null());
    }

    // `format` on numbers ("uint32", "int64", …) confuses hosts; on strings it is advisory only.
    obj.remove("format");
    obj.remove("nullable");

    // oneOf of documented constants (how schemars writes documented enums) → one `enum` list.
    if let Some(Value::Array(variants)) = obj.get("oneOf")
        && let Some(values) = variants
            .iter()
            .map(|v| v.get("const").cloned())
            .collect::<Option<Vec<Value>>>()
    {
        let kind = values
            .iter()
            .all(Value::is_string)
            .then_some("string")
            .or_else(|| values.iter().all(Value::is_i64).then_some("integer"));
        let notes: Vec<String> = variants
            .iter()
            .filter_map(|v| {
                Some(format!(
                    "{}: {}",
                    v.get("const")?,
                    v.get("description")?.as_str()?
                ))
            })
            .collect();
        obj.remove("oneOf");
        obj.insert("enum".into(), Value::Array(values));
        if let Some(kind) = kind {
            obj.insert("type".into(), kind.into());
        }
        if !notes.is_empty() && !obj.contains_key("description") {
            obj.insert("description".into(), notes.join("; ").into());
        }
    }
    if let Some(c) = obj.remove("const") {
        obj.insert("enum".into(), Value::Array(vec![c]));
    }
    if obj.get("default") == Some(&Value::Null) {
        obj.remove("default");
    }

    for (key, child) in obj.iter_mut() {
        match key.as_str() {
            "properties" | "definitions" | "$defs" => {
                if let Value::Object(children) = child {
                    children.values_mut().for_each(simplify);
                }
            }
            "items" | "additionalProperties" | "not" => simplify(child),
            "anyOf" | "oneOf" | "allOf" => {
                if let Value::Array(children) = child {
                    children.iter_mut().for_each(simplify);
                }
            }
            _ => {}
        }
    }
}

/// Every feature in `schema` that some MCP host rejects, each with its JSON path; empty if none.
pub fn host_compatibility_problems(schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    walk(schema, "$", &mut problems);
    problems
}

fn walk(schema: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        problems.push(format!("{path}: a schema must be an object, not {schema}"));
        return;
    };
    for key in [
        "$ref",
        "$defs",
        "definitions",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "const",
        "nullable",
        "format",
    ] {
        if obj.contains_key(key) {
            problems.push(format!("{path}: uses \"{key}\""));
        }
    }
    match obj.get("type") {
        Some(Value::String(t)) if t == "null" => problems.push(format!("{path}: type \"null\"")),
        Some(Value::String(_)) => {}
        Some(other) => problems.push(format!("{path}: type must be one string, not {other}")),
        None if path != "$" => problems.push(format!("{path}: has no type")),
        None => {}
    }
    if let Some(Value::Array(values)) = obj.get("enum") {
        if values.iter().any(Value::is_null) {
            problems.push(format!("{path}: enum contains null"));
        } else if !values.iter().all(Value::is_string) {
            // Gemini's function declarations take string enums only.
            problems.push(format!("{path}: enum values must be strings"));
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            let child_path = format!("{path}.properties.{name}");
            if child
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{child_path}: has no description"));
            }
            walk(child, &child_path, problems);
        }
    }
    if let Some(items) = obj.get("items") {
        walk(items, &format!("{path}.items"), problems);
    }
    if let Some(additional @ Value::Object(_)) = obj.get("additionalProperties") {
        walk(
            additional,
            &format!("{path}.additionalProperties"),
            problems,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{EffectiveParameters, TransitionRequest};
    use serde_json::json;

    #[test]
    fn the_request_schema_is_flat_and_complete() {
        let schema = Value::Object(host_friendly_schema::<TransitionRequest>());
        assert_eq!(
            host_compatibility_problems(&schema),
            Vec::<String>::new(),
            "{schema:#}"
        );
        let props = &schema["properties"];
        for field in TransitionRequest::FIELDS {
            assert!(
                props.get(field).is_some(),
                "{field} missing from {schema:#}"
            );
        }
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort();
        assert_eq!(required, ["image", "last_image", "prompt"]);
        assert_eq!(props["resolution"]["enum"], json!(["720p", "1080p"]));
        assert_eq!(props["resolution"]["default"], "720p");
        assert_eq!(props["aspect_ratio"]["enum"], json!(["16:9", "9:16"]));
        assert_eq!(
            props["duration_seconds"],
            json!({"type": "integer", "minimum": 4, "maximum": 8, "default": 8, "description": props["duration_seconds"]["description"]})
        );
        assert!(
            props["duration_seconds"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("4, 6 or 8")),
            "the allowed values are named"
        );
        assert_eq!(
            host_compatibility_problems(&json!({"type": "object", "properties": {"n": {
                "type": "integer", "enum": [4, 6, 8], "description": "n"}}})),
            ["$.properties.n: enum values must be strings"],
            "integer enums are refused (Gemini takes string enums only)"
        );
        assert_eq!(
            props["person_generation"]["enum"],
            json!(["allow_adult", "dont_allow", "allow_all"])
        );
        assert_eq!(
            props["model"]["enum"],
            json!(["veo-3.1", "veo-3.1-fast", "veo-3.1-lite"])
        );
        assert_eq!(props["model"]["default"], "veo-3.1");
        assert_eq!(props["seed"]["type"], "integer");
        assert_eq!(props["seed"]["minimum"], 0);
        assert_eq!(props["seed"]["maximum"], u32::MAX);
        assert_eq!(props["sample_count"]["minimum"], 1);
        assert_eq!(props["sample_count"]["maximum"], 4);
        assert_eq!(props["sample_count"]["default"], 1);
        assert_eq!(props["enhance_prompt"]["default"], true);
        assert_eq!(props["negative_prompt"]["type"], "string");
        assert!(
            props["image"]["description"]
                .as_str()
                .unwrap()
                .contains("Base64")
        );
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn the_checker_catches_what_hosts_reject() {
        let bad = json!({
            "type": "object",
            "$defs": {},
            "properties": {
                "a": {"type": ["string", "null"], "description": "x"},
                "b": {"type": "integer", "format": "uint32", "description": "x"},
                "c": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "x"},
                "d": {"$ref": "#/$defs/D", "description": "x"},
                "e": {"type": "string"}
            }
        });
        let problems = host_compatibility_problems(&bad);
        for needle in [
            "uses \"$defs\"",
            "properties.a: type must be one string",
            "properties.b: uses \"format\"",
            "properties.c: uses \"anyOf\"",
            "properties.d: uses \"$ref\"",
            "properties.e: has no description",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "{needle} not in {problems:?}"
            );
        }
    }

    #[test]
    fn simplify_flattens_nullables() {
        let mut v = json!({"anyOf": [{"type": "integer", "format": "uint32", "minimum": 0}, {"type": "null"}], "description": "seed"});
        simplify(&mut v);
        assert_eq!(
            v,
            json!({"type": "integer", "minimum": 0, "description": "seed"})
        );
        let mut optional_enum = json!({"type": ["string", "null"], "enum": ["a", "b", null]});
        simplify(&mut optional_enum);
        assert_eq!(optional_enum, json!({"type": "string", "enum": ["a", "b"]}));
        let schema = Value::Object(host_friendly_schema::<EffectiveParameters>());
        assert_eq!(
            host_compatibility_problems(&schema),
            Vec::<String>::new(),
            "{schema:#}"
        );
    }
}
